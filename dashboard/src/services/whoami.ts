// Who the API key acts as (`GET /whoami`): an admin (every tenant), a tenant's key (its
// tenant's data only) or a tenant's read-only key. The page says whose data it shows from it,
// and offers only what the key may do (see access.ts).

import { apiFetch, type Credentials } from "./api";

// ---- wire types ---------------------------------------------------------------------------

export type Role = "admin" | "tenant" | "readonly";

export interface WhoAmIWire {
  role: Role;
  /** The key's tenant; null: every tenant. */
  tenant: string | null;
  /** The stored key's id; null: the server's API_KEY, or auth off. */
  key_id: string | null;
  /** Whether the server needs keys (API_KEY is set). */
  auth: boolean;
}

// ---- dashboard types ----------------------------------------------------------------------

export interface WhoAmI {
  role: Role;
  tenant: string | null;
  keyId: string | null;
  auth: boolean;
}

export function whoamiFromWire(wire: WhoAmIWire): WhoAmI {
  return { role: wire.role, tenant: wire.tenant, keyId: wire.key_id, auth: wire.auth };
}

// ---- calls --------------------------------------------------------------------------------

/** Asked with the key alone: who a key is does not depend on the tenant the settings name. */
export async function getWhoAmI(credentials: Credentials, signal?: AbortSignal): Promise<WhoAmI> {
  const wire = await apiFetch<WhoAmIWire>("/whoami", {
    credentials: { apiKey: credentials.apiKey, tenant: "" },
    ...(signal && { signal }),
  });
  return whoamiFromWire(wire);
}
