// Runtime configuration the API injects into index.html (`<script id="conveyor-config">`).

export interface DashboardConfig {
  /** The server has API_KEY set: requests need the key. */
  apiKeyRequired: boolean;
  version: string | null;
}

export function readConfig(doc: Document = document): DashboardConfig {
  let raw: unknown = {};
  try {
    raw = JSON.parse(doc.getElementById("conveyor-config")?.textContent ?? "{}");
  } catch {
    raw = {};
  }
  const value = typeof raw === "object" && raw !== null ? (raw as Record<string, unknown>) : {};
  return {
    apiKeyRequired: value.apiKeyRequired === true,
    version: typeof value.version === "string" ? value.version : null,
  };
}
