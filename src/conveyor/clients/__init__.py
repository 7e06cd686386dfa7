"""The HTTP clients, in parts: `calls` says what each method sends and how its answer is
read (no I/O at all), `errors` turns an error answer into a typed exception, and the two
transports `sync` (`conveyor.Client`, httpx.Client) and `asynchronous` (`conveyor.AsyncClient`,
httpx.AsyncClient) only send. A route, a parameter or an error is written once, in `calls`
or `errors`, so the two clients cannot drift apart. Import them from `conveyor.client`."""
