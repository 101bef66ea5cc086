// .github/workflows/ci.yml is valid GitHub Actions (checked offline against the schema by action-validator, from
// the registry as a devDependency) and runs what .ci/run runs, on every Node version and runtime the README claims.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const workflowPath = join(root, '.github/workflows/ci.yml');
const workflow = readFileSync(workflowPath, 'utf8');
const scratch = mkdtempSync(join(tmpdir(), 'm2m-workflow-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function validate(file: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(join(root, 'node_modules/.bin/action-validator'), [file], { cwd: root }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, output: stdout + stderr });
    });
  });
}

describe('the GitHub Actions workflow', () => {
  it('passes action-validator', async () => {
    const { code, output } = await validate(workflowPath);
    expect(output).toBe('');
    expect(code).toBe(0);
  });

  it('is checked for real: action-validator rejects a workflow with a misspelt key', async () => {
    const broken = join(scratch, 'broken.yml');
    writeFileSync(broken, workflow.replace('runs-on: ubuntu-latest', 'runs_on: ubuntu-latest'));
    const { code, output } = await validate(broken);
    expect(code).not.toBe(0);
    expect(output).toContain('runs_on');
  });

  it('runs npm test on Node 20, 22 and 24, and the runtime matrix (Deno, Bun, workerd) on its own', () => {
    expect(workflow).toMatch(/^\s+node: \[20, 22, 24\]$/m);
    expect(workflow).toMatch(/node-version: \$\{\{ matrix\.node \}\}/);
    expect(workflow).toMatch(/^\s+- run: npm test$/m);
    expect(workflow).toMatch(/^\s+- run: npm run test:runtimes$/m);
    expect(workflow).toContain('path: .tools');
  });
});
