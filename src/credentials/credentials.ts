/**
 * The client's secrets for each round: the configured list or the provider's answer, the order to try them in
 * (the one that worked last first), and the redactor that knows every form of each.
 */
import { createRedactor, type Redactor } from './redact.js';
import { callSecretProvider, type ClientSecret, secretOrder } from './secrets.js';

/** One round's secrets: as configured (or as the provider returned them), and the positions in the order to try. */
export interface RoundSecrets {
  secrets: readonly string[];
  order: readonly number[];
}

export interface Credentials {
  /** This round's secrets; asks the provider, if there is one, bounded by its timeout and `signal`. */
  forRound(signal: AbortSignal): Promise<RoundSecrets>;
  /** Remembers the secret that worked, to try it first next time. */
  worked(secret: string): void;
  readonly redactor: Redactor;
}

export function createCredentials(
  clientId: string,
  clientSecret: readonly string[] | Exclude<ClientSecret, string | readonly string[]>,
  providerTimeoutMs: number,
): Credentials {
  const redactor = createRedactor(clientId);
  let lastWorked: string | undefined;
  return {
    redactor,
    async forRound(signal) {
      const secrets =
        typeof clientSecret === 'function'
          ? await callSecretProvider(clientSecret, providerTimeoutMs, signal)
          : clientSecret;
      redactor.learn(secrets);
      return { secrets, order: secretOrder(secrets, lastWorked) };
    },
    worked(secret) {
      lastWorked = secret;
    },
  };
}
