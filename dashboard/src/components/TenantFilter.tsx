import { type FormEvent, useId, useState } from "react";

export interface TenantFilterProps {
  /** The tenant the API key is bound to: shown, with no other choice (null: an admin's key). */
  fixed: string | null;
  /** The admin's filter (null: every tenant). */
  value: string | null;
  onChange: (tenant: string | null) => void;
}

/** Whose jobs the list shows. A tenant's key sees its own tenant only, so that is all this
 *  says; an admin types a tenant's name to see its jobs alone, or sees every tenant's. */
export function TenantFilter({ fixed, value, onChange }: TenantFilterProps) {
  const id = useId();
  const [draft, setDraft] = useState(value ?? "");
  // A new filter from the address (a link, the back button) replaces what the field holds.
  const [shown, setShown] = useState(value);
  if (shown !== value) {
    setShown(value);
    setDraft(value ?? "");
  }

  if (fixed !== null) {
    return (
      <p className="tenant-filter" data-testid="tenant-filter">
        <span className="field__label">Tenant</span> <strong className="mono">{fixed}</strong>{" "}
        <span className="muted">· this API key sees this tenant’s jobs only</span>
      </p>
    );
  }

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const tenant = draft.trim();
    onChange(tenant === "" ? null : tenant);
  };

  return (
    <form className="tenant-filter" role="search" aria-label="Tenant filter" onSubmit={submit} data-testid="tenant-filter">
      <label htmlFor={id} className="field__label">
        Tenant
      </label>
      <input
        id={id}
        className="input input--small mono"
        value={draft}
        onChange={(event) => setDraft(event.target.value)}
        placeholder="all tenants"
        autoComplete="off"
        spellCheck={false}
      />
      <button type="submit" className="button button--small">
        Show
      </button>
      {value !== null && (
        <>
          <button type="button" className="button button--small button--ghost" onClick={() => onChange(null)}>
            All tenants
          </button>
          <span className="muted">No counts on the tabs: they count every tenant.</span>
        </>
      )}
    </form>
  );
}
