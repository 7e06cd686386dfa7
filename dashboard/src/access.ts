// What the API key may do, from who it is (`GET /whoami`), in words for the page: the header's
// "whose data", and for each kind of control, why it is off (null: it is on). Pure, so the rules
// are tested directly.
//
// Until /whoami has answered (or on an API without it) everything is offered: the API decides
// in any case, and a refused action shows the API's message. Hiding controls until the answer
// would make every page load flicker for the common case, an admin.

import type { Credentials } from "./services/api";
import type { WhoAmI } from "./services/whoami";

export interface Access {
  /** Who the key is; null until /whoami answered. */
  whoami: WhoAmI | null;
  /** The tenant the key is bound to: the page shows its data only, and acts for it. Null: an
   *  admin (or not known yet). */
  tenant: string | null;
  /** Why the key may not change jobs: submit, retry, cancel, redrive, enable or disable a
   *  schedule (null: it may). */
  writeDenied: string | null;
  /** Why the key may not use the operator switches: pausing and resuming queues. */
  operateDenied: string | null;
  /** Whose data the page shows, for the header: "All tenants (admin)", "Tenant acme",
   *  "Tenant acme · read-only" (null: not known yet). */
  scope: string | null;
  /** The same at length, for the header's tooltip. */
  scopeDetail: string | null;
}

export const READ_ONLY = "This API key is read-only: it can see the tenant’s jobs but not change them.";
export const ADMIN_ONLY = "Pausing and resuming queues needs an admin key: they are shared by every tenant.";

export const UNKNOWN_ACCESS: Access = {
  whoami: null,
  tenant: null,
  writeDenied: null,
  operateDenied: null,
  scope: null,
  scopeDetail: null,
};

function describeKey(whoami: WhoAmI): string {
  if (!whoami.auth) return "The server needs no API key: every request acts as an admin.";
  return whoami.keyId === null ? "The server’s API_KEY." : `API key ${whoami.keyId}.`;
}

export function accessOf(whoami: WhoAmI | null): Access {
  if (whoami === null) return UNKNOWN_ACCESS;
  const who = whoami.tenant === null ? "All tenants" : `Tenant ${whoami.tenant}`;
  const readonly = whoami.role === "readonly";
  const scope = whoami.role === "admin" ? `${who} (admin)` : readonly ? `${who} · read-only` : who;
  const sees =
    whoami.tenant === null
      ? "It sees every tenant’s jobs and may act for any tenant."
      : `It sees tenant ${whoami.tenant}’s jobs only${readonly ? " and changes nothing" : " and acts for it"}.`;
  return {
    whoami,
    tenant: whoami.tenant,
    writeDenied: readonly ? READ_ONLY : null,
    operateDenied: whoami.role === "admin" ? null : ADMIN_ONLY,
    scope,
    scopeDetail: `${describeKey(whoami)} ${sees}`,
  };
}

/** The credentials actions are sent with. A tenant's key acts for its own tenant, whatever the
 *  settings' tenant says (the API refuses another one with 403), so none is sent. */
export function actingCredentials(credentials: Credentials, access: Access): Credentials {
  return access.tenant === null || credentials.tenant === "" ? credentials : { ...credentials, tenant: "" };
}
