import { type FormEvent, useEffect, useId, useRef, useState } from "react";

import type { Credentials } from "../services/api";

interface SettingsPanelProps {
  id: string;
  credentials: Credentials;
  onSave: (credentials: Credentials) => void;
  /** Put the cursor in the API key field (the API asked for a key). */
  focusKey: number;
  keyRequired: boolean;
  /** The tenant the saved key is bound to: the key acts for it whatever this field says, so
   *  the field shows it and cannot be edited (null: an admin's key, or not known yet). */
  fixedTenant?: string | null;
}

/** SEED.md's optional API key and tenant fields, kept in local storage. */
export function SettingsPanel({ id, credentials, onSave, focusKey, keyRequired, fixedTenant = null }: SettingsPanelProps) {
  const [apiKey, setApiKey] = useState(credentials.apiKey);
  const [tenant, setTenant] = useState(credentials.tenant);
  const [reveal, setReveal] = useState(false);
  const [saved, setSaved] = useState(false);
  const keyInput = useRef<HTMLInputElement>(null);
  const ids = { key: useId(), tenant: useId(), keyHint: useId(), tenantHint: useId() };

  // Once saved (and trimmed), the credentials replace what the fields hold, from the render
  // that gets them: React's "adjust state when a prop changes", rather than an effect.
  const [shown, setShown] = useState(credentials);
  if (shown !== credentials) {
    setShown(credentials);
    setApiKey(credentials.apiKey);
    setTenant(credentials.tenant);
  }

  useEffect(() => {
    if (focusKey > 0) keyInput.current?.focus();
  }, [focusKey]);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    onSave({ apiKey, tenant });
    setSaved(true);
  };

  const dirty = apiKey.trim() !== credentials.apiKey || tenant.trim() !== credentials.tenant;

  return (
    <form id={id} className="settings" onSubmit={submit} aria-label="API key and tenant">
      <div className="settings__field">
        <label htmlFor={ids.key} className="field__label">
          API key{keyRequired && <span className="muted"> (required by this server)</span>}
        </label>
        <div className="settings__key">
          <input
            ref={keyInput}
            id={ids.key}
            className="input mono"
            type={reveal ? "text" : "password"}
            autoComplete="off"
            spellCheck={false}
            value={apiKey}
            onChange={(event) => {
              setApiKey(event.target.value);
              setSaved(false);
            }}
            aria-describedby={ids.keyHint}
          />
          <button
            type="button"
            className="button button--small button--ghost"
            onClick={() => setReveal(!reveal)}
            aria-pressed={reveal}
          >
            {reveal ? "Hide" : "Show"}
          </button>
        </div>
        <p id={ids.keyHint} className="field__hint">
          Sent as X-API-Key when the server has API_KEY set.
        </p>
      </div>
      <div className="settings__field">
        <label htmlFor={ids.tenant} className="field__label">
          Tenant ID
        </label>
        <input
          id={ids.tenant}
          className="input mono"
          type="text"
          autoComplete="off"
          spellCheck={false}
          placeholder="default"
          value={fixedTenant ?? tenant}
          readOnly={fixedTenant !== null}
          onChange={(event) => {
            setTenant(event.target.value);
            setSaved(false);
          }}
          aria-describedby={ids.tenantHint}
        />
        <p id={ids.tenantHint} className="field__hint">
          {fixedTenant === null
            ? "Sent as X-Tenant-Id with submissions; rate limits are per tenant."
            : `This API key acts for tenant ${fixedTenant} only.`}
        </p>
      </div>
      <div className="settings__actions">
        <button type="submit" className="button button--primary">
          Save
        </button>
        <span className="muted settings__status" role="status">
          {saved && !dirty ? "Saved in this browser." : "Kept in this browser’s local storage."}
        </span>
      </div>
    </form>
  );
}
