import { type FormEvent, type RefObject, useId, useRef, useState } from "react";

import { describePayload, formatAgo, formatUtcOffset, shortId } from "../format";
import { useNow } from "../hooks";
import { routeHref } from "../routing";
import { type Job, rfc3339FromLocal, type Submission, type SubmitOptions } from "../services/jobs";
import { StatusBadge } from "./StatusBadge";

export interface QuickSubmit {
  label: string;
  hint: string;
  submission: Submission;
}

/** SEED.md's quick-submit buttons. At one second per character: 2, 5, 11 and 30 seconds. */
export const QUICK_SUBMITS: QuickSubmit[] = [
  { label: "2 sec", hint: "Submits “Hi”", submission: { text: "Hi" } },
  { label: "5 sec", hint: "Submits “Hello”", submission: { text: "Hello" } },
  { label: "11 sec", hint: "Submits “Hello world”", submission: { text: "Hello world" } },
  {
    label: "30 sec (max)",
    hint: "Submits 30 characters, the most the text task takes",
    submission: { text: "The quick brown fox jumps over" },
  },
  {
    label: ">30 chars (→ DLQ)",
    hint: "Submits 43 characters: fails the length check and goes to the dead letter queue",
    submission: { text: "The quick brown fox jumps over the lazy dog" },
  },
  {
    label: "Fail (→ DLQ)",
    hint: "Submits {fail: true}: a simulated failure, retried, then dead-lettered",
    submission: { payload: { fail: true } },
  },
];

export type SubmitFeedback =
  | { kind: "idle" }
  | { kind: "sending" }
  | { kind: "error"; message: string }
  | { kind: "rate_limited"; until: number; seconds: number; message: string };

/** The most seconds an attempt may be given (the API's limit: a day). */
export const MAX_TIMEOUT_SEC = 86_400;

type FormField = "text" | "runAt" | "timeout";

const INVALID: Record<FormField, string> = {
  text: "Enter some text to process.",
  runAt: "Enter a date and time to run at, or leave it empty.",
  timeout: `The timeout is a number of seconds from 1 to ${MAX_TIMEOUT_SEC.toLocaleString("en-US")}, or empty.`,
};

/** The form's optional fields as the API takes them, or the first one that is not valid. */
function readOptions(runAt: string, timeout: string): SubmitOptions | FormField {
  const options: SubmitOptions = {};
  if (runAt !== "") {
    const moment = rfc3339FromLocal(runAt);
    if (moment === null) return "runAt";
    options.run_at = moment;
  }
  if (timeout.trim() !== "") {
    const seconds = Number(timeout);
    if (!Number.isFinite(seconds) || seconds < 1 || seconds > MAX_TIMEOUT_SEC) return "timeout";
    options.timeout_sec = seconds;
  }
  return options;
}

interface SubmitPanelProps {
  onSubmit: (submission: Submission) => void;
  feedback: SubmitFeedback;
  recent: readonly Job[];
  /** Why this API key may not submit (a read-only key; null: it may): the buttons are off. */
  denied?: string | null;
}

export function SubmitPanel({ onSubmit, feedback, recent, denied = null }: SubmitPanelProps) {
  const [text, setText] = useState("");
  const [runAt, setRunAt] = useState("");
  const [timeoutSec, setTimeoutSec] = useState("");
  const [invalid, setInvalid] = useState<FormField | null>(null);
  const textInput = useRef<HTMLInputElement>(null);
  const runAtInput = useRef<HTMLInputElement>(null);
  const timeoutInput = useRef<HTMLInputElement>(null);
  const ids = {
    title: useId(),
    text: useId(),
    hint: useId(),
    runAt: useId(),
    timeout: useId(),
    optionsHint: useId(),
    quick: useId(),
    feedback: useId(),
  };
  const limited = feedback.kind === "rate_limited";
  const now = useNow(limited ? 1000 : 15_000);

  const submitText = (event: FormEvent) => {
    event.preventDefault();
    if (denied !== null) return;
    const options = text.trim() === "" ? "text" : readOptions(runAt, timeoutSec);
    if (typeof options === "string") {
      setInvalid(options);
      const inputs: Record<FormField, RefObject<HTMLInputElement | null>> = {
        text: textInput,
        runAt: runAtInput,
        timeout: timeoutInput,
      };
      inputs[options].current?.focus();
      return;
    }
    setInvalid(null);
    onSubmit({ text, ...options });
    setText("");
    setRunAt("");
    setTimeoutSec("");
  };

  /** Typing into a field clears the complaint about it. */
  const edited = (field: FormField) => {
    if (invalid === field) setInvalid(null);
  };

  let message: string | null = null;
  if (invalid !== null) message = INVALID[invalid];
  else if (feedback.kind === "error") message = feedback.message;
  else if (limited) {
    // `now` ticks once a second and may predate the answer: never count above what it said.
    const seconds = Math.min(feedback.seconds, Math.max(0, Math.ceil((feedback.until - now) / 1000)));
    message = seconds > 0 ? `${feedback.message} Try again in ${seconds} s.` : "You can submit again now.";
  }

  return (
    <section className="panel submit" aria-labelledby={ids.title}>
      <h2 id={ids.title} className="panel__title">
        Submit a job
      </h2>
      <form className="submit__form" onSubmit={submitText} noValidate>
        <label htmlFor={ids.text} className="field__label">
          Text to process
        </label>
        <div className="submit__row">
          <input
            ref={textInput}
            id={ids.text}
            className="input"
            type="text"
            autoComplete="off"
            placeholder="e.g. Hello"
            value={text}
            onChange={(event) => {
              setText(event.target.value);
              edited("text");
            }}
            aria-invalid={invalid === "text"}
            aria-describedby={`${ids.hint} ${ids.feedback}`}
          />
          <button
            type="submit"
            className="button button--primary"
            aria-disabled={feedback.kind === "sending" || denied !== null}
            title={denied ?? undefined}
          >
            Submit job
          </button>
        </div>
        <p id={ids.hint} className="field__hint">
          One second per character (“Hello” takes 5 s). More than 30 characters, or the word “reject”,
          sends the job to the dead letter queue.
        </p>
        <div className="submit__options">
          <div className="submit__option">
            <label htmlFor={ids.runAt} className="field__label">
              Run at
            </label>
            <input
              ref={runAtInput}
              id={ids.runAt}
              className="input"
              type="datetime-local"
              value={runAt}
              onChange={(event) => {
                setRunAt(event.target.value);
                edited("runAt");
              }}
              aria-invalid={invalid === "runAt"}
              aria-describedby={`${ids.optionsHint} ${ids.feedback}`}
            />
          </div>
          <div className="submit__option submit__option--narrow">
            <label htmlFor={ids.timeout} className="field__label">
              Timeout (s)
            </label>
            <input
              ref={timeoutInput}
              id={ids.timeout}
              className="input"
              type="number"
              inputMode="decimal"
              min={1}
              max={MAX_TIMEOUT_SEC}
              step="any"
              placeholder="task default"
              value={timeoutSec}
              onChange={(event) => {
                setTimeoutSec(event.target.value);
                edited("timeout");
              }}
              aria-invalid={invalid === "timeout"}
              aria-describedby={`${ids.optionsHint} ${ids.feedback}`}
            />
          </div>
        </div>
        <p id={ids.optionsHint} className="field__hint">
          Both optional. Run at is your time ({formatUtcOffset(new Date(now))}); empty runs it as soon as a
          worker is free. Timeout: the seconds each attempt may take before it fails and is retried.
        </p>
      </form>

      <div className="quick" role="group" aria-labelledby={ids.quick}>
        <span id={ids.quick} className="quick__title">
          Quick submit
        </span>
        <div className="quick__buttons">
          {QUICK_SUBMITS.map((quick) => (
            <button
              key={quick.label}
              type="button"
              className={`button button--chip${quick.label.includes("DLQ") ? " button--chip-danger" : ""}`}
              title={denied ?? quick.hint}
              aria-disabled={denied !== null}
              onClick={() => {
                if (denied === null) onSubmit(quick.submission);
              }}
            >
              {quick.label}
            </button>
          ))}
        </div>
      </div>

      <p
        id={ids.feedback}
        className={`submit__feedback${message ? " submit__feedback--error" : ""}`}
        role="alert"
        data-testid="submit-feedback"
      >
        {message ?? denied}
      </p>

      <div className="recent">
        <h3 className="recent__title">Submitted from this page</h3>
        {recent.length === 0 ? (
          <p className="muted recent__empty">Jobs you submit here show up below, with their status as it changes.</p>
        ) : (
          <ul className="recent__list" aria-label="Jobs submitted from this page">
            {recent.map((job) => (
              <li key={job.id} className={`recent__item${job.status === "running" ? " is-running" : ""}`} data-job-id={job.id}>
                <StatusBadge status={job.status} />
                <a className="mono" href={routeHref({ name: "job", id: job.id })} aria-label={`Job ${shortId(job.id)}`}>
                  {shortId(job.id)}
                </a>
                <span className="recent__what">{describePayload(job, 32)}</span>
                <time className="muted recent__when" dateTime={job.createdAt.toISOString()}>
                  {formatAgo(job.createdAt, now)}
                </time>
              </li>
            ))}
          </ul>
        )}
      </div>
    </section>
  );
}
