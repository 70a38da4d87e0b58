/**
 * A real VS Code for the end-to-end tests, with the packaged .vsix installed offline and a
 * workspace holding the example model, driven by playwright-core:
 * - by default code-server (VS Code 1.100 — workbench, extension host, webviews) from the npm
 *   registry, started on 127.0.0.1 and shown in Debian's Chromium: it runs where nothing can be
 *   downloaded but npm packages (this project's CI);
 * - with LENS_E2E_VSCODE=electron, desktop VS Code downloaded by @vscode/test-electron (the
 *   standard way, where VS Code's download site is reachable; LENS_E2E_VSCODE_VERSION picks the
 *   version, default stable), launched through Playwright's Electron support.
 * The scenarios are the same in both.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { _electron, chromium, type Browser, type ElectronApplication, type Frame, type Page } from 'playwright-core';

export const ROOT = path.resolve(__dirname, '..', '..');
const E2E = __dirname;
const CODE_SERVER = path.join(E2E, 'node_modules', '.bin', 'code-server');
export const VSIX = path.join(ROOT, 'attribution-lens.vsix');
export const SHOTS = path.join(ROOT, 'test-output', 'e2e');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ELECTRON = process.env.LENS_E2E_VSCODE === 'electron';
/** Which VS Code the tests drive. */
export const VSCODE_KIND = ELECTRON ? 'desktop VS Code via @vscode/test-electron' : 'code-server';

/** No marketplace: nothing may come from the network. */
const OFFLINE_ENV = { EXTENSIONS_GALLERY: '{"serviceUrl":""}' };

export interface Workbench {
  page: Page;
  workspace: string;
  /** The code-server log (the extension host's output lands there too). */
  log: () => string;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

async function waitForHttp(url: string, ms: number, child: ChildProcess): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (child.exitCode !== null) throw new Error(`code-server exited with ${child.exitCode}`);
    try {
      const r = await fetch(url);
      if (r.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`code-server did not answer ${url} within ${ms} ms`);
}

/** Installs code-server (once) and packages the extension; the .vsix is what users install. */
export function prepare(): void {
  if (!ELECTRON && !fs.existsSync(CODE_SERVER)) execFileSync('bash', [path.join(E2E, 'install-code-server.sh')], { stdio: 'inherit' });
  execFileSync('npm', ['run', 'package', '--silent'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  if (!fs.existsSync(VSIX)) throw new Error(`npm run package did not write ${VSIX}`);
}

/** Writes the workspace: the example model and samples, a training script, trusted settings. */
function makeWorkspace(root: string): string {
  const ws = path.join(root, 'workspace');
  fs.cpSync(path.join(ROOT, 'examples', 'mnist'), path.join(ws, 'mnist'), { recursive: true, filter: (f) => !f.includes('controls') });
  fs.writeFileSync(
    path.join(ws, 'train.py'),
    [
      'import torch',
      '',
      'sample = "mnist/samples/digit_7.png"',
      'model = torch.nn.Sequential()',
      'x = torch.zeros(1, 1, 28, 28)',
      'torch.onnx.export(model, x, "mnist/digit_cnn.onnx")',
      '',
    ].join('\n'),
  );
  return ws;
}

export async function startWorkbench(settings: Record<string, unknown>): Promise<Workbench> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'lens-e2e-'));
  const userData = path.join(root, 'user-data');
  const extensions = path.join(root, 'extensions');
  const xdg = (name: string) => path.join(root, 'xdg', name);
  const env = {
    ...process.env,
    ...OFFLINE_ENV,
    XDG_CONFIG_HOME: xdg('config'),
    XDG_DATA_HOME: xdg('data'),
    XDG_CACHE_HOME: xdg('cache'),
  };
  const workspace = makeWorkspace(root);
  fs.mkdirSync(path.join(userData, 'User'), { recursive: true });
  fs.writeFileSync(
    path.join(userData, 'User', 'settings.json'),
    JSON.stringify({
      'workbench.startupEditor': 'none',
      'workbench.tips.enabled': false,
      'extensions.autoCheckUpdates': false,
      'telemetry.telemetryLevel': 'off',
      'security.workspace.trust.enabled': false,
      'editor.hover.delay': 200,
      ...settings,
    }),
  );
  const common = ['--user-data-dir', userData, '--extensions-dir', extensions];
  if (ELECTRON) return startElectron(root, workspace, common, env);
  execFileSync(CODE_SERVER, [...common, '--install-extension', VSIX], { env, stdio: 'pipe' });

  const port = await freePort();
  const logFile = path.join(root, 'code-server.log');
  const out = fs.openSync(logFile, 'a');
  // Its own process group (setsid), so stopping it stops the extension host and the worker too.
  const child = spawn(
    CODE_SERVER,
    [...common, '--bind-addr', `127.0.0.1:${port}`, '--auth', 'none', '--disable-telemetry', '--disable-update-check', '--disable-workspace-trust', workspace],
    { env, detached: true, stdio: ['ignore', out, out] },
  );
  const log = (): string => fs.readFileSync(logFile, 'utf8');
  let browser: Browser | undefined;
  const stop = async (): Promise<void> => {
    await browser?.close().catch(() => undefined);
    try {
      if (child.pid) process.kill(-child.pid, 'SIGTERM');
    } catch {
      // already gone
    }
    fs.closeSync(out);
    fs.rmSync(root, { recursive: true, force: true });
  };
  try {
    await waitForHttp(`http://127.0.0.1:${port}/healthz`, 30000, child);
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    const page = await context.newPage();
    await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(workspace)}`);
    await page.waitForSelector('.monaco-workbench', { timeout: 60000 });
    return { page, workspace, log, stop };
  } catch (err) {
    const tail = log().split('\n').slice(-30).join('\n');
    await stop();
    throw new Error(`${(err as Error).message}\ncode-server log:\n${tail}`);
  }
}

async function startElectron(root: string, workspace: string, common: string[], env: NodeJS.ProcessEnv): Promise<Workbench> {
  const { downloadAndUnzipVSCode, resolveCliArgsFromVSCodeExecutablePath } = await import('@vscode/test-electron');
  const executable = await downloadAndUnzipVSCode(process.env.LENS_E2E_VSCODE_VERSION ?? 'stable');
  const [cli, ...cliArgs] = resolveCliArgsFromVSCodeExecutablePath(executable);
  execFileSync(cli, [...cliArgs, ...common, '--install-extension', VSIX], { env, stdio: 'pipe' });
  let app: ElectronApplication | undefined;
  const stop = async (): Promise<void> => {
    await app?.close().catch(() => undefined);
    fs.rmSync(root, { recursive: true, force: true });
  };
  try {
    app = await _electron.launch({
      executablePath: executable,
      args: [...common, '--disable-workspace-trust', '--skip-welcome', '--skip-release-notes', '--disable-telemetry', '--disable-gpu', '--no-sandbox', workspace],
      env: env as Record<string, string>,
    });
    const page = await app.firstWindow();
    await page.setViewportSize({ width: 1400, height: 900 }).catch(() => undefined);
    await page.waitForSelector('.monaco-workbench', { timeout: 60000 });
    return { page, workspace, log: () => '', stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Runs a palette command by its title (category "Attribution Lens"). */
export async function runCommand(page: Page, title: string): Promise<void> {
  await openPalette(page, `Attribution Lens: ${title}`);
  // The row with exactly this title: Enter would run whichever row the fuzzy filter ranks first.
  const exact = new RegExp(`^\\s*Attribution Lens: ${title.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*$`);
  const row = page.locator('.quick-input-list .monaco-list-row').filter({ has: page.locator('.label-name', { hasText: exact }) });
  await row.first().click();
  await page.locator('.quick-input-widget').waitFor({ state: 'hidden' }).catch(() => undefined);
}

export async function openPalette(page: Page, text: string): Promise<void> {
  await page.locator('.monaco-workbench').click({ position: { x: 700, y: 5 } }).catch(() => undefined);
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor();
  await input.fill(`>${text}`);
}

/**
 * Picks the quick pick's row with `label` (e.g. the sample to explain). Lists built from a
 * workspace file search can take well over 30 s to fill on a machine loaded by other work.
 */
export async function pick(page: Page, label: string): Promise<void> {
  const row = page.locator('.quick-input-widget:visible .quick-input-list .monaco-list-row', { hasText: label }).first();
  await row.waitFor({ timeout: 90000 });
  await row.click();
}

/**
 * The frame of the webview panel whose page has `selector` (with `text`, if given) — a webview's
 * content sits in an iframe inside an iframe.
 */
export async function webviewFrame(page: Page, selector: string, text?: string, ms = 60000): Promise<Frame> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    for (const frame of page.frames()) {
      if (frame.name() !== 'active-frame' && !frame.url().includes('fake.html')) continue;
      const found = await frame
        .locator(selector, text === undefined ? {} : { hasText: text })
        .count()
        .catch(() => 0);
      if (found > 0) return frame;
    }
    await page.waitForTimeout(200);
  }
  throw new Error(`no webview shows ${selector} within ${ms} ms`);
}

/** Text of the notification toasts on screen. */
export async function notifications(page: Page): Promise<string[]> {
  return page.locator('.notification-toast .notification-list-item-message').allInnerTexts();
}

export async function shot(page: Page, name: string): Promise<void> {
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`) });
}
