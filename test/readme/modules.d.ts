// Minimal ambient declarations for the third-party modules README snippets import and this repository does not
// install with types (ioredis, redis and axios are checked against their real types). Extend as snippets need.
declare module 'cloudflare:workers' {
  export const env: Env;
}

declare module 'express' {
  interface Request {
    headers: Record<string, string | string[] | undefined>;
    params: Record<string, string>;
  }
  interface Response {
    status(code: number): Response;
    json(body: unknown): Response;
    send(body?: unknown): Response;
  }
  type NextFunction = (error?: unknown) => void;
  type Handler = (req: Request, res: Response, next: NextFunction) => unknown;
  interface Express {
    get(path: string, ...handlers: Handler[]): Express;
    use(...handlers: unknown[]): Express;
    listen(port: number, callback?: () => void): unknown;
  }
  function express(): Express;
  export default express;
  export type { Express, NextFunction, Request, Response };
}

declare module 'ky' {
  const ky: { create(options: { prefixUrl?: string; fetch?: typeof fetch; headers?: HeadersInit }): unknown };
  export default ky;
}

declare module 'openai' {
  export default class OpenAI {
    constructor(options: { baseURL?: string; apiKey?: string; fetch?: typeof fetch });
  }
}

declare module 'pino' {
  type Log = (fields: object, message?: string) => void;
  export default function pino(): { info: Log; warn: Log; error: Log };
}

// @opentelemetry/api is a devDependency, mapped to its real declarations; these parts of the OpenTelemetry Node SDK
// and its OTLP exporters are not installed.
declare module '@opentelemetry/sdk-node' {
  export class NodeSDK {
    constructor(options: { serviceName?: string; traceExporter?: unknown; metricReader?: unknown });
    start(): void;
    shutdown(): Promise<void>;
  }
}

declare module '@opentelemetry/sdk-metrics' {
  export class PeriodicExportingMetricReader {
    constructor(options: { exporter: unknown; exportIntervalMillis?: number });
  }
}

declare module '@opentelemetry/exporter-trace-otlp-http' {
  export class OTLPTraceExporter {
    constructor(options?: { url?: string });
  }
}

declare module '@opentelemetry/exporter-metrics-otlp-http' {
  export class OTLPMetricExporter {
    constructor(options?: { url?: string });
  }
}

declare module '@aws-sdk/client-secrets-manager' {
  export class GetSecretValueCommand {
    constructor(input: { SecretId: string; VersionStage?: string });
  }
  export class SecretsManagerClient {
    constructor(config: { region?: string });
    send(command: GetSecretValueCommand): Promise<{ SecretString?: string }>;
  }
}

declare module 'constructs' {
  export class Construct {}
}

declare module 'aws-cdk-lib' {
  import type { Construct } from 'constructs';
  export interface StackProps {
    env?: { account?: string; region?: string };
  }
  export class Stack {
    constructor(scope: Construct, id: string, props?: StackProps);
  }
}

declare module 'aws-cdk-lib/aws-dynamodb' {
  import type { Construct } from 'constructs';
  export enum AttributeType {
    STRING = 'S',
  }
  export abstract class Billing {
    private readonly mode: string;
    static onDemand(): Billing;
  }
  export class TableV2 {
    constructor(
      scope: Construct,
      id: string,
      props: {
        tableName?: string;
        partitionKey: { name: string; type: AttributeType };
        billing?: Billing;
        timeToLiveAttribute?: string;
      },
    );
  }
}
