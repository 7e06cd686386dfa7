import { formatPercent } from "../format";

interface ProgressBarProps {
  /** 0 to 1, as the handler reported it (clamped here). */
  progress: number;
  message: string | null;
  /** What the bar is the progress of, for screen readers ("Progress of job 0000abcd"). */
  label: string;
  /** The message beside the percent (the detail) rather than only in the tooltip (a row). */
  showMessage?: boolean;
}

/** A job's last reported progress: a bar, the percent, and the handler's message. */
export function ProgressBar({ progress, message, label, showMessage = false }: ProgressBarProps) {
  const fraction = Math.min(1, Math.max(0, progress));
  const percent = formatPercent(fraction);
  return (
    <div className="progress" title={message ?? undefined} data-progress={fraction}>
      <div
        className="progress__track"
        role="progressbar"
        aria-label={label}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={Math.round(fraction * 1000) / 10}
        aria-valuetext={message ? `${percent}, ${message}` : percent}
      >
        <div className="progress__fill" style={{ width: `${fraction * 100}%` }} />
      </div>
      <span className="progress__percent">{percent}</span>
      {showMessage && message && <span className="progress__message">{message}</span>}
    </div>
  );
}
