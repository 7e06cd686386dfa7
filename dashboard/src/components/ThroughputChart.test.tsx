import { render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";

import { niceMax, ThroughputChart } from "./ThroughputChart";

describe("ThroughputChart", () => {
  const now = Date.parse("2026-01-02T10:30:20Z");
  const minute = Date.parse("2026-01-02T10:28:00Z");

  it("summarises the hour for screen readers and draws one stack per busy minute", () => {
    const { container } = render(
      <ThroughputChart buckets={[{ minute, done: 12, failed: 3 }]} minutes={60} now={now} error={null} />,
    );
    expect(screen.getByRole("img").getAttribute("aria-label")).toBe(
      "Over the last 60 minutes: 12 jobs done and 3 failed; at most 15 in one minute.",
    );
    expect(container.querySelectorAll(".bar--done")).toHaveLength(1);
    expect(container.querySelectorAll(".bar--failed")).toHaveLength(1);
    expect(screen.getByText("now")).toBeTruthy();
  });

  it("rounds the axis up to a number whose half is whole", () => {
    expect([0, 3, 5, 7, 12, 45, 101].map(niceMax)).toEqual([4, 4, 6, 8, 20, 60, 200]);
  });
});
