import { describe, expect, it } from "vitest";

import { accessOf, actingCredentials, ADMIN_ONLY, READ_ONLY, UNKNOWN_ACCESS } from "./access";
import { whoamiFromWire, type WhoAmIWire } from "./services/whoami";

const who = (overrides: Partial<WhoAmIWire>) =>
  whoamiFromWire({ role: "admin", tenant: null, key_id: null, auth: true, ...overrides });

describe("access", () => {
  it("says whose data the page shows, for each kind of key", () => {
    expect(accessOf(who({})).scope).toBe("All tenants (admin)");
    expect(accessOf(who({ role: "tenant", tenant: "acme", key_id: "a1b2c3d4e5f6" })).scope).toBe("Tenant acme");
    expect(accessOf(who({ role: "readonly", tenant: "acme", key_id: "a1b2c3d4e5f6" })).scope).toBe(
      "Tenant acme · read-only",
    );
    expect(accessOf(who({ auth: false })).scopeDetail).toContain("needs no API key");
    expect(accessOf(who({})).scopeDetail).toContain("API_KEY");
    expect(accessOf(who({ role: "tenant", tenant: "acme", key_id: "a1b2c3d4e5f6" })).scopeDetail).toContain(
      "a1b2c3d4e5f6",
    );
  });

  it("turns off what each key may not do, and nothing before the API said who the key is", () => {
    const admin = accessOf(who({}));
    expect([admin.tenant, admin.writeDenied, admin.operateDenied]).toEqual([null, null, null]);
    const tenant = accessOf(who({ role: "tenant", tenant: "acme" }));
    expect([tenant.tenant, tenant.writeDenied, tenant.operateDenied]).toEqual(["acme", null, ADMIN_ONLY]);
    const readonly = accessOf(who({ role: "readonly", tenant: "acme" }));
    expect([readonly.tenant, readonly.writeDenied, readonly.operateDenied]).toEqual(["acme", READ_ONLY, ADMIN_ONLY]);
    expect(accessOf(null)).toEqual(UNKNOWN_ACCESS);
    expect([UNKNOWN_ACCESS.writeDenied, UNKNOWN_ACCESS.operateDenied, UNKNOWN_ACCESS.scope]).toEqual([null, null, null]);
  });

  it("acts for a tenant's key's own tenant, whatever tenant the settings name", () => {
    const saved = { apiKey: "cvk_x", tenant: "globex" };
    expect(actingCredentials(saved, accessOf(who({ role: "tenant", tenant: "acme" })))).toEqual({
      apiKey: "cvk_x",
      tenant: "",
    });
    expect(actingCredentials(saved, accessOf(who({})))).toBe(saved);
    expect(actingCredentials(saved, UNKNOWN_ACCESS)).toBe(saved);
  });
});
