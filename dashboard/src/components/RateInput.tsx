// The rate a redrive goes at, jobs a second, as the bulk bar's Retry and the DLQ's "Redrive by
// filter" ask for it: the field (empty: no limit) and what its text says.

import { formatCount } from "../format";
import { MAX_RATE_PER_SEC, MIN_RATE_PER_SEC } from "../services/redrive";

/** The rate typed, jobs a second (null: left empty, no limit), or why it is not one. */
export function readRate(text: string): { ratePerSec: number | null } | { problem: string } {
  if (text.trim() === "") return { ratePerSec: null };
  const ratePerSec = Number(text);
  if (!Number.isFinite(ratePerSec) || ratePerSec < MIN_RATE_PER_SEC || ratePerSec > MAX_RATE_PER_SEC) {
    return { problem: `The rate is a number of jobs a second, from ${MIN_RATE_PER_SEC} to ${formatCount(MAX_RATE_PER_SEC)}.` };
  }
  return { ratePerSec };
}

interface RateInputProps {
  /** The input's id, which its label names. */
  id: string;
  value: string;
  onChange: (value: string) => void;
  disabled: boolean;
  /** readRate found a problem with it. */
  invalid: boolean;
  /** A toolbar's small field (the bulk bar's) rather than a form's. */
  small?: boolean;
  /** The element that says what is wrong. */
  describedBy?: string;
}

/** The label and the field; the caller places them. */
export function RateInput({ id, value, onChange, disabled, invalid, small = false, describedBy }: RateInputProps) {
  return (
    <>
      <label htmlFor={id} className="field__label">
        Rate (jobs/s)
      </label>
      <input
        id={id}
        className={small ? "input input--small" : "input"}
        type="number"
        inputMode="decimal"
        min={MIN_RATE_PER_SEC}
        max={MAX_RATE_PER_SEC}
        step="any"
        placeholder="no limit"
        value={value}
        onChange={(event) => onChange(event.target.value)}
        disabled={disabled}
        aria-invalid={invalid}
        aria-describedby={describedBy}
      />
    </>
  );
}
