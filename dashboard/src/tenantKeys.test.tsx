// Keys with a tenant or a role: the header says whose data the page shows (`/whoami`), a
// tenant's key sees its own tenant's list with no other choice, an admin may filter by tenant,
// and what a key may not do is off, saying why; a 403 that happens anyway shows the API's words.

import { screen, waitFor, within } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { ADMIN_ONLY, READ_ONLY } from "./access";
import { shortId } from "./format";
import type { WhoAmIWire } from "./services/whoami";
import { apiError, json } from "./test/fakeApi";
import { buildJobWire, buildListWire, buildMetricsWire } from "./test/factories/job";
import { buildQueueWire } from "./test/factories/queue";
import { buildScheduleWire } from "./test/factories/schedule";
import { CONFIG, goLive, type Harness, renderApp, startHarness } from "./test/harness";

let harness: Harness;

beforeEach(() => {
  harness = startHarness();
});

afterEach(() => {
  vi.unstubAllGlobals();
});

const AUTH = { ...CONFIG, apiKeyRequired: true };
const ADMIN: WhoAmIWire = { role: "admin", tenant: null, key_id: null, auth: true };
const ACME: WhoAmIWire = { role: "tenant", tenant: "acme", key_id: "a1b2c3d4e5f6", auth: true };
const ACME_READONLY: WhoAmIWire = { role: "readonly", tenant: "acme", key_id: "f6e5d4c3b2a1", auth: true };

/** The page with a saved key (and tenant) that `/whoami` says is `whoami`. */
async function openAs(whoami: WhoAmIWire, hash = "#/pending", tenant = "") {
  harness.whoami = whoami;
  window.localStorage.setItem("conveyor.apiKey", "cvk_a1b2c3d4e5f6_secret");
  if (tenant !== "") window.localStorage.setItem("conveyor.tenant", tenant);
  window.location.hash = hash;
  const rendered = renderApp(harness, AUTH);
  await goLive(harness);
  return rendered;
}

async function scope(): Promise<string> {
  return (await screen.findByTestId("scope")).textContent ?? "";
}

async function findRow(id: string): Promise<HTMLElement> {
  return waitFor(() => {
    const row = document.querySelector<HTMLElement>(`tr[data-job-id="${id}"]`);
    if (row === null) throw new Error(`no row for job ${id}`);
    return row;
  });
}

function flash(): string {
  return document.querySelector(".flash-slot")?.textContent ?? "";
}

/** The button is shown, off, and says why in its tooltip. */
function expectDenied(button: HTMLElement, why: string): void {
  expect(button.getAttribute("aria-disabled")).toBe("true");
  expect(button.getAttribute("title")).toBe(why);
}

describe("whose data the page shows", () => {
  it("says it in the header for each kind of key, once the API said who the key is", async () => {
    let answer: (() => void) | null = null;
    harness.api.on("GET", /^\/whoami$/, () => new Promise((resolve) => (answer = () => resolve(json(harness.whoami)))));
    await openAs(ACME);
    expect(screen.queryByTestId("scope")).toBeNull(); // not a guess before the answer
    await waitFor(() => expect(answer).not.toBeNull());
    answer!();
    expect(await scope()).toBe("Showing: Tenant acme");
    expect(screen.getByTestId("scope").getAttribute("title")).toContain("a1b2c3d4e5f6");
    expect(harness.api.calls("GET", /^\/whoami$/)[0]?.headers["X-API-Key"]).toBe("cvk_a1b2c3d4e5f6_secret");
  });

  it("reads “All tenants (admin)” for an admin, and “· read-only” for a read-only key", async () => {
    const first = await openAs(ADMIN);
    expect(await scope()).toBe("Showing: All tenants (admin)");
    first.unmount();
    await openAs(ACME_READONLY);
    expect(await scope()).toBe("Showing: Tenant acme · read-only");
  });

  it("asks again when the key changes", async () => {
    const { user } = await openAs(ADMIN);
    expect(await scope()).toBe("Showing: All tenants (admin)");
    harness.whoami = ACME;
    await user.click(screen.getByRole("button", { name: /API key & tenant/ }));
    const field = screen.getByLabelText(/^API key/, { selector: "input" });
    await user.clear(field);
    await user.type(field, "cvk_other_secret");
    await user.click(screen.getByRole("button", { name: "Save" }));
    await waitFor(async () => expect(await scope()).toBe("Showing: Tenant acme"));
    expect(harness.api.calls("GET", /^\/whoami$/).at(-1)?.headers["X-API-Key"]).toBe("cvk_other_secret");
  });
});

describe("a tenant's key", () => {
  it("lists its tenant's jobs with no other choice, whatever the address or the settings say", async () => {
    const mine = buildJobWire({ tenant: "acme" });
    harness.lists.pending = [mine];
    const { user } = await openAs(ACME, "#/pending?tenant=globex", "globex");
    expect(await scope()).toBe("Showing: Tenant acme");
    await findRow(mine.id);

    const filter = screen.getByTestId("tenant-filter");
    expect(filter.textContent).toContain("acme");
    expect(within(filter).queryByRole("textbox")).toBeNull(); // no other choice offered
    // Once the key is known, the list is asked for without a tenant: the API limits it to acme.
    await waitFor(() => expect(harness.api.calls("GET", /^\/jobs\?/).at(-1)?.path).not.toContain("tenant="));

    // The settings show the key's tenant, not the saved one, and it cannot be typed over.
    await user.click(screen.getByRole("button", { name: /API key & tenant/ }));
    const tenantField = screen.getByLabelText<HTMLInputElement>("Tenant ID");
    expect(tenantField.value).toBe("acme");
    expect(tenantField.readOnly).toBe(true);
  });

  it("acts for its own tenant: a retry sends no X-Tenant-Id, even with another one saved", async () => {
    const failed = buildJobWire({ tenant: "acme", status: "failed", last_error: "boom" });
    harness.lists.failed = [failed];
    harness.api.on("POST", /\/retry$/, () => json(buildJobWire({ tenant: "acme", retry_of: failed.id }), 201));
    const { user } = await openAs(ACME, "#/failed", "globex");
    expect(await scope()).toBe("Showing: Tenant acme");
    const row = await findRow(failed.id);
    const retry = within(row).getByRole("button", { name: `Retry job ${shortId(failed.id)}` });
    expect(retry.getAttribute("aria-disabled")).toBe("false");
    await user.click(retry);
    await waitFor(() => expect(harness.api.calls("POST", /\/retry$/)).toHaveLength(1));
    expect(harness.api.calls("POST", /\/retry$/)[0]?.headers["X-Tenant-Id"]).toBeUndefined();
    expect(await within(row).findByRole("link", { name: /Retried as/ })).toBeTruthy();
  });

  it("cannot pause queues (admin only), and has no Prometheus link", async () => {
    harness.queues = [buildQueueWire({ name: "default" })];
    const { user } = await openAs(ACME, "#/queues");
    expect(await scope()).toBe("Showing: Tenant acme");
    const pause = await screen.findByRole("button", { name: "Pause queue default" });
    expectDenied(pause, ADMIN_ONLY);
    expect(screen.getByTestId("queues-denied").textContent).toBe(ADMIN_ONLY);
    await user.click(pause);
    expect(harness.api.calls("POST", /^\/queues\//)).toHaveLength(0);
    expect(screen.queryByRole("link", { name: "Prometheus metrics" })).toBeNull();
  });
});

describe("a read-only key", () => {
  it("sees retry and cancel off, saying why, and sends nothing when they are clicked", async () => {
    const pending = buildJobWire({ tenant: "acme", status: "pending" });
    harness.lists.pending = [pending];
    const { user } = await openAs(ACME_READONLY);
    expect(await scope()).toBe("Showing: Tenant acme · read-only");
    const row = await findRow(pending.id);
    const cancel = within(row).getByRole("button", { name: `Cancel job ${shortId(pending.id)}` });
    await waitFor(() => expectDenied(cancel, READ_ONLY));
    await user.click(cancel);

    // The submit form too: a read-only key cannot submit.
    const submit = screen.getByRole("button", { name: "Submit job" });
    expectDenied(submit, READ_ONLY);
    expect(screen.getByTestId("submit-feedback").textContent).toBe(READ_ONLY);
    await user.click(screen.getByRole("button", { name: "2 sec" }));
    expect(harness.api.requests.filter((request) => request.method !== "GET")).toEqual([]);
  });

  it("sees the job's own retry off", async () => {
    const failed = buildJobWire({ tenant: "acme", status: "failed", last_error: "boom" });
    harness.api.on("GET", new RegExp(`^/jobs/${failed.id}`), () => json({ ...failed, events: [] }));
    const { user } = await openAs(ACME_READONLY, `#/jobs/${failed.id}`);
    expect(await scope()).toBe("Showing: Tenant acme · read-only");
    const retry = await screen.findByRole("button", { name: "Retry" });
    await waitFor(() => expectDenied(retry, READ_ONLY));
    await user.click(retry);
    expect(harness.api.calls("POST", /\/retry$/)).toHaveLength(0);
  });

  it("cannot preview or run a redrive, and the tenant field is the key's", async () => {
    harness.lists.failed = [buildJobWire({ tenant: "acme", status: "failed", last_error: "boom" })];
    const { user } = await openAs(ACME_READONLY, "#/dlq");
    expect(await scope()).toBe("Showing: Tenant acme · read-only");
    const panel = await screen.findByTestId("redrive");
    await user.click(within(panel).getByText("Redrive by filter"));
    expect(within(panel).getByTestId("redrive-denied").textContent).toBe(READ_ONLY);
    const preview = within(panel).getByRole<HTMLButtonElement>("button", { name: "Preview" });
    const run = within(panel).getByRole<HTMLButtonElement>("button", { name: "Redrive" });
    expect([preview.disabled, run.disabled]).toEqual([true, true]);
    expect([preview.title, run.title]).toEqual([READ_ONLY, READ_ONLY]);
    const tenant = within(panel).getByLabelText<HTMLInputElement>("Tenant");
    expect([tenant.value, tenant.disabled]).toEqual(["acme", true]);
    expect(harness.api.calls("POST", /^\/dlq\/redrive$/)).toHaveLength(0);
  });

  it("cannot enable or disable a schedule", async () => {
    harness.schedules = [buildScheduleWire({ name: "nightly", tenant: "acme" })];
    const { user } = await openAs(ACME_READONLY, "#/schedules");
    expect(await scope()).toBe("Showing: Tenant acme · read-only");
    const toggle = await screen.findByRole("switch", { name: "Enable schedule nightly" });
    expectDenied(toggle, READ_ONLY);
    await user.click(toggle);
    expect(harness.api.calls("PATCH", /^\/schedules\//)).toHaveLength(0);
  });
});

describe("an admin's key", () => {
  it("has every control on, and filters the list by tenant in the address", async () => {
    const acme = buildJobWire({ tenant: "acme", status: "failed", last_error: "boom" });
    const globex = buildJobWire({ tenant: "globex", status: "failed", last_error: "boom" });
    harness.lists.failed = [acme, globex];
    harness.metrics = buildMetricsWire({ failed: 2, dlq_count: 2 });
    harness.api.on("GET", /^\/jobs\?.*tenant=acme/, () => json(buildListWire([acme])));
    const { user } = await openAs(ADMIN, "#/dlq");
    expect(await scope()).toBe("Showing: All tenants (admin)");
    const row = await findRow(globex.id);
    expect(within(row).getByRole("button", { name: /^Retry job/ }).getAttribute("aria-disabled")).toBe("false");
    const dlqTab = screen.getByRole("tab", { name: /^Dead letter queue/ });
    await waitFor(() => expect(within(dlqTab).getByText("2")).toBeTruthy());

    const filter = screen.getByTestId("tenant-filter");
    await user.type(within(filter).getByLabelText("Tenant"), "acme");
    await user.click(within(filter).getByRole("button", { name: "Show" }));
    await waitFor(() => expect(window.location.hash).toBe("#/dlq?tenant=acme"));
    // The DLQ of one tenant: its failed jobs, from /jobs (the /dlq route takes no tenant).
    await findRow(acme.id);
    await waitFor(() => expect(document.querySelector(`tr[data-job-id="${globex.id}"]`)).toBeNull());
    expect(harness.api.calls("GET", /^\/jobs\?/).at(-1)?.path).toBe("/jobs?limit=20&status=failed&tenant=acme");
    expect(within(dlqTab).queryByText("2")).toBeNull(); // every tenant's count: not beside one tenant's list

    // Another tab keeps the filter; "All tenants" drops it.
    await user.click(screen.getByRole("tab", { name: /^Pending/ }));
    await waitFor(() => expect(window.location.hash).toBe("#/pending?tenant=acme"));
    await user.click(within(screen.getByTestId("tenant-filter")).getByRole("button", { name: "All tenants" }));
    await waitFor(() => expect(window.location.hash).toBe("#/pending"));
    expect(screen.getByRole("link", { name: "Prometheus metrics" })).toBeTruthy();
  });
});

describe("a 403 that happens anyway", () => {
  it("shows the API's message, keeps the page, and asks again who the key is", async () => {
    const pending = buildJobWire({ tenant: "acme", status: "pending" });
    harness.lists.pending = [pending];
    harness.api.on("POST", /\/cancel$/, () => apiError(403, "forbidden", "this API key is read-only"));
    const { user } = await openAs(ACME);
    expect(await scope()).toBe("Showing: Tenant acme");
    const row = await findRow(pending.id);
    const whoamiCalls = harness.api.calls("GET", /^\/whoami$/).length;
    harness.whoami = ACME_READONLY; // the key's role changed meanwhile
    await user.click(within(row).getByRole("button", { name: `Cancel job ${shortId(pending.id)}` }));

    await waitFor(() => expect(flash()).toContain("this API key is read-only"));
    expect(document.querySelector(".flash-slot .flash--error")).not.toBeNull();
    expect(screen.getByTestId("problem").textContent).toBe(""); // not the "key rejected" banner
    // Throttled like every refetch: within two seconds of the last time it was asked.
    await waitFor(() => expect(harness.api.calls("GET", /^\/whoami$/).length).toBeGreaterThan(whoamiCalls), {
      timeout: 3000,
    });
    expect(await scope()).toBe("Showing: Tenant acme · read-only");
    await waitFor(() =>
      expectDenied(within(row).getByRole("button", { name: `Cancel job ${shortId(pending.id)}` }), READ_ONLY),
    );
  });
});
