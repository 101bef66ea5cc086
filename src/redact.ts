/**
 * Keeps credentials out of everything the client hands back: every form in which a secret can travel, and text
 * scrubbed of them.
 */
import { basicAuthorization, formUrlEncode } from './token-request.js';

/** Every form in which `clientSecret` can leak: as is, form-encoded, and inside the Basic credential. */
export function credentialForms(clientId: string, clientSecret: string): string[] {
  const forms = [clientSecret, formUrlEncode(clientSecret), basicAuthorization(clientId, clientSecret).slice('Basic '.length)];
  return [...new Set(forms)].filter((form) => form !== '');
}

/** `text` with each of `forms` replaced by `[REDACTED]`, longest first. */
export function redact(text: string, forms: readonly string[]): string {
  return [...forms].sort((a, b) => b.length - a.length).reduce((out, form) => out.split(form).join('[REDACTED]'), text);
}
