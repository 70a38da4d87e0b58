/**
 * A small stand-in for the `vscode` module, for unit tests of the extension's handlers outside VS
 * Code: only the edge is faked (UI calls are recorded, quick picks answered from a queue); the file
 * system is the real one and the engine worker is real. Install it with install-fake-vscode.ts
 * before importing any src/extension module.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

type Listener<T> = (e: T) => unknown;

export class Disposable {
  constructor(private readonly fn: () => void = () => undefined) {}
  static from(...ds: { dispose(): unknown }[]): Disposable {
    return new Disposable(() => ds.forEach((d) => d.dispose()));
  }
  dispose(): void {
    this.fn();
  }
}

export class EventEmitter<T> {
  private listeners: Listener<T>[] = [];
  event = (listener: Listener<T>): Disposable => {
    this.listeners.push(listener);
    return new Disposable(() => (this.listeners = this.listeners.filter((l) => l !== listener)));
  };
  fire(e: T): void {
    for (const l of [...this.listeners]) l(e);
  }
  dispose(): void {
    this.listeners = [];
  }
}

export class CancellationTokenSource {
  private readonly emitter = new EventEmitter<void>();
  token = { isCancellationRequested: false, onCancellationRequested: this.emitter.event };
  cancel(): void {
    if (this.token.isCancellationRequested) return;
    this.token.isCancellationRequested = true;
    this.emitter.fire();
  }
  dispose(): void {
    this.emitter.dispose();
  }
}

export class Uri {
  private constructor(
    readonly scheme: string,
    readonly fsPath: string,
  ) {}
  static file(p: string): Uri {
    return new Uri('file', path.resolve(p));
  }
  static joinPath(base: Uri, ...parts: string[]): Uri {
    return new Uri(base.scheme, path.join(base.fsPath, ...parts));
  }
  get path(): string {
    return this.fsPath.split(path.sep).join('/');
  }
  toString(): string {
    return `${this.scheme}://${this.path}`;
  }
}

export class Position {
  constructor(
    readonly line: number,
    readonly character: number,
  ) {}
}

export class Range {
  readonly start: Position;
  readonly end: Position;
  constructor(a: number | Position, b: number | Position, c?: number, d?: number) {
    this.start = typeof a === 'number' ? new Position(a, b as number) : a;
    this.end = typeof a === 'number' ? new Position(c as number, d as number) : (b as Position);
  }
}

export class MarkdownString {
  value: string;
  supportHtml = false;
  isTrusted: unknown;
  constructor(value = '', readonly supportThemeIcons = false) {
    this.value = value;
  }
  appendMarkdown(s: string): this {
    this.value += s;
    return this;
  }
  appendText(s: string): this {
    this.value += s;
    return this;
  }
}

export class Hover {
  constructor(
    readonly contents: MarkdownString,
    readonly range?: Range,
  ) {}
}

export class CodeLens {
  constructor(
    readonly range: Range,
    readonly command?: { title: string; command: string; arguments?: unknown[] },
  ) {}
}

export class ThemeIcon {
  constructor(readonly id: string) {}
}

export enum TreeItemCollapsibleState {
  None = 0,
  Collapsed = 1,
  Expanded = 2,
}

export class TreeItem {
  description?: string;
  resourceUri?: Uri;
  iconPath?: unknown;
  contextValue?: string;
  tooltip?: string;
  command?: unknown;
  constructor(
    readonly label: string,
    readonly collapsibleState: TreeItemCollapsibleState = TreeItemCollapsibleState.None,
  ) {}
}

export class TabInputText {
  constructor(readonly uri: Uri) {}
}
export class TabInputCustom {
  constructor(
    readonly uri: Uri,
    readonly viewType: string,
  ) {}
}

export enum FileType {
  Unknown = 0,
  File = 1,
  Directory = 2,
}
export enum ProgressLocation {
  SourceControl = 1,
  Window = 10,
  Notification = 15,
}
export enum StatusBarAlignment {
  Left = 1,
  Right = 2,
}
export enum ViewColumn {
  Active = -1,
  Beside = -2,
  One = 1,
}

export interface FakeProgress {
  title?: string;
  reports: { increment?: number; message?: string }[];
  cancel: () => void;
}

/** Everything the tests inspect or steer. */
export const fake = {
  trusted: true,
  workspaceFolders: [] as string[],
  config: {} as Record<string, unknown>,
  messages: [] as { level: 'info' | 'warning' | 'error'; text: string }[],
  /** Answers for showQuickPick, in order: a function choosing among the items (undefined = dismissed). */
  quickPicks: [] as ((items: { label: string }[]) => unknown)[],
  openDialogs: [] as (Uri[] | undefined)[],
  /** Progress notifications shown: title, reports, and the source to cancel them. */
  progress: [] as FakeProgress[],
  /** Called when a progress notification starts (tests cancel it from here). */
  onProgressStart: undefined as ((p: FakeProgress) => void) | undefined,
  commands: new Map<string, (...args: unknown[]) => unknown>(),
  context: new Map<string, unknown>(),
  watchers: [] as FakeWatcher[],
  panels: [] as FakePanel[],
  /** Default paths the save dialogs offered, and the answers to give (undefined: cancelled). */
  saveDialogs: [] as (string | undefined)[],
  saveAnswers: [] as (Uri | undefined)[],
  statusItems: [] as FakeStatusItem[],
  /** Webview panel serializers by viewType (a reload calls deserializeWebviewPanel). */
  serializers: new Map<string, { deserializeWebviewPanel(panel: FakePanel, state: unknown): Promise<void> }>(),
  logLines: [] as string[],
  activeTextEditor: undefined as { document: { uri: Uri } } | undefined,
  reset(): void {
    this.messages = [];
    this.quickPicks = [];
    this.openDialogs = [];
    this.progress = [];
    this.onProgressStart = undefined;
    this.commands.clear();
    this.context.clear();
    this.watchers = [];
    this.panels = [];
    this.saveDialogs = [];
    this.saveAnswers = [];
    this.statusItems = [];
    this.serializers.clear();
    this.logLines = [];
    this.activeTextEditor = undefined;
  },
};

export class FakeWatcher {
  readonly change = new EventEmitter<Uri>();
  readonly create = new EventEmitter<Uri>();
  readonly delete = new EventEmitter<Uri>();
  onDidChange = this.change.event;
  onDidCreate = this.create.event;
  onDidDelete = this.delete.event;
  constructor(readonly glob: string) {}
  dispose(): void {}
}

export class FakePanel {
  title: string;
  readonly posted: unknown[] = [];
  private readonly received = new EventEmitter<unknown>();
  private readonly disposedEmitter = new EventEmitter<void>();
  readonly webview = {
    html: '',
    options: {} as { localResourceRoots?: Uri[]; enableScripts?: boolean },
    cspSource: 'vscode-resource:',
    asWebviewUri: (u: Uri) => u,
    postMessage: async (m: unknown) => {
      this.posted.push(m);
      return true;
    },
    onDidReceiveMessage: this.received.event,
  };
  onDidDispose = this.disposedEmitter.event;
  disposed = false;
  constructor(
    readonly viewType: string,
    title: string,
    readonly options: { localResourceRoots?: Uri[]; enableScripts?: boolean },
  ) {
    this.title = title;
  }
  /** The page script's first message. */
  sendFromWebview(m: unknown): void {
    this.received.fire(m);
  }
  reveal(): void {}
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.disposedEmitter.fire();
  }
}

export class FakeStatusItem {
  text = '';
  tooltip?: string;
  name?: string;
  command?: string;
  visible = false;
  constructor(readonly id: string) {}
  show(): void {
    this.visible = true;
  }
  hide(): void {
    this.visible = false;
  }
  dispose(): void {}
}

function logChannel(name: string) {
  const line = (level: string) => (msg: string) => fake.logLines.push(`[${level}] ${msg}`);
  return { name, info: line('info'), warn: line('warn'), error: line('error'), debug: line('debug'), trace: line('trace'), append() {}, appendLine: line('info'), show() {}, dispose() {} };
}

function fsError(p: string): Error {
  const e = new Error(`file not found: ${p}`);
  e.name = 'EntryNotFound (FileSystemError)';
  return e;
}

/**
 * The glob syntax VS Code's findFiles takes, as far as the extension uses it: `**\/` (any folders),
 * `*` (any name part), `{a,b}` alternatives; matched against the path's forward-slashed form.
 */
function globMatcher(glob: string): (file: string) => boolean {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (glob.startsWith('**/', i)) {
      re += '(?:.*/)?';
      i += 2;
    } else if (c === '*') re += '[^/]*';
    else if (c === '{') re += '(?:';
    else if (c === '}') re += ')';
    else if (c === ',') re += '|';
    else re += c.replace(/[.+?^$()|[\]\\]/g, '\\$&');
  }
  const regex = new RegExp(`(?:^|/)${re}$`, 'i');
  return (file) => regex.test(file.split(path.sep).join('/'));
}
function excludedDirs(exclude: unknown): Set<string> {
  const m = typeof exclude === 'string' ? /^\*\*\/\{([^}]*)\}\/\*\*$/.exec(exclude) : null;
  return new Set(m ? m[1].split(',') : []);
}

const configChanged = new EventEmitter<{ affectsConfiguration(section: string): boolean }>();

/** Changes a setting and tells the extension, as the Settings editor does. */
export function setConfig(key: string, value: unknown): void {
  if (value === undefined) delete fake.config[key];
  else fake.config[key] = value;
  configChanged.fire({ affectsConfiguration: (section: string) => key === section || key.startsWith(`${section}.`) });
}

export const workspace = {
  get isTrusted() {
    return fake.trusted;
  },
  get workspaceFolders() {
    return fake.workspaceFolders.map((p, index) => ({ uri: Uri.file(p), name: path.basename(p), index }));
  },
  getConfiguration(section: string) {
    return {
      get<T>(key: string, dflt?: T): T {
        const full = `${section}.${key}`;
        return (full in fake.config ? fake.config[full] : dflt) as T;
      },
    };
  },
  onDidChangeConfiguration: configChanged.event,
  onDidGrantWorkspaceTrust: new EventEmitter<void>().event,
  asRelativePath(p: string | Uri): string {
    const f = typeof p === 'string' ? p : p.fsPath;
    const root = fake.workspaceFolders.find((r) => f.startsWith(r + path.sep));
    return root ? path.relative(root, f) : f;
  },
  async findFiles(include: string, exclude?: unknown, max = Infinity): Promise<Uri[]> {
    const match = globMatcher(include);
    const skip = excludedDirs(exclude);
    const out: Uri[] = [];
    const walk = (d: string): void => {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        if (out.length >= max) return;
        const full = path.join(d, e.name);
        if (e.isDirectory()) {
          if (!skip.has(e.name)) walk(full);
        } else if (match(full)) out.push(Uri.file(full));
      }
    };
    for (const root of fake.workspaceFolders) walk(root);
    return out;
  },
  createFileSystemWatcher(glob: string) {
    const w = new FakeWatcher(glob);
    fake.watchers.push(w);
    return w;
  },
  fs: {
    async stat(uri: Uri) {
      try {
        const s = fs.statSync(uri.fsPath);
        return { type: s.isDirectory() ? FileType.Directory : FileType.File, mtime: s.mtimeMs, ctime: s.ctimeMs, size: s.size };
      } catch {
        throw fsError(uri.fsPath);
      }
    },
    async readFile(uri: Uri): Promise<Uint8Array> {
      try {
        return new Uint8Array(fs.readFileSync(uri.fsPath));
      } catch {
        throw fsError(uri.fsPath);
      }
    },
    async writeFile(uri: Uri, bytes: Uint8Array): Promise<void> {
      fs.writeFileSync(uri.fsPath, bytes);
    },
    async readDirectory(uri: Uri): Promise<[string, FileType][]> {
      try {
        return fs.readdirSync(uri.fsPath, { withFileTypes: true }).map((e) => [e.name, e.isDirectory() ? FileType.Directory : FileType.File]);
      } catch {
        throw fsError(uri.fsPath);
      }
    },
  },
};

const show =
  (level: 'info' | 'warning' | 'error') =>
  async (text: string): Promise<undefined> => {
    fake.messages.push({ level, text });
    return undefined;
  };

export const window = {
  createOutputChannel: (name: string) => logChannel(name),
  showInformationMessage: show('info'),
  showWarningMessage: show('warning'),
  showErrorMessage: show('error'),
  get activeTextEditor() {
    return fake.activeTextEditor;
  },
  tabGroups: { activeTabGroup: { activeTab: undefined } },
  async showQuickPick(items: { label: string }[] | Promise<{ label: string }[]>) {
    const answer = fake.quickPicks.shift();
    if (!answer) throw new Error('fake showQuickPick: no answer queued');
    return answer(await items);
  },
  async showOpenDialog() {
    return fake.openDialogs.shift();
  },
  async showSaveDialog(options: { defaultUri?: Uri }) {
    fake.saveDialogs.push(options.defaultUri?.fsPath);
    return fake.saveAnswers.shift();
  },
  async withProgress<R>(
    options: { title?: string; cancellable?: boolean },
    task: (progress: { report(v: { increment?: number; message?: string }): void }, token: CancellationTokenSource['token']) => Promise<R>,
  ): Promise<R> {
    const source = new CancellationTokenSource();
    const entry: FakeProgress = { title: options.title, reports: [], cancel: () => source.cancel() };
    fake.progress.push(entry);
    fake.onProgressStart?.(entry);
    return task({ report: (v) => entry.reports.push(v) }, source.token);
  },
  createStatusBarItem(id: string) {
    const s = new FakeStatusItem(id);
    fake.statusItems.push(s);
    return s;
  },
  createTreeView(_id: string, _options: unknown) {
    return new Disposable();
  },
  registerTreeDataProvider() {
    return new Disposable();
  },
  registerWebviewPanelSerializer(viewType: string, serializer: { deserializeWebviewPanel(panel: FakePanel, state: unknown): Promise<void> }) {
    fake.serializers.set(viewType, serializer);
    return new Disposable(() => fake.serializers.delete(viewType));
  },
  createWebviewPanel(viewType: string, title: string, _column: unknown, options: { localResourceRoots?: Uri[] }) {
    const p = new FakePanel(viewType, title, options);
    fake.panels.push(p);
    return p;
  },
};

export const commands = {
  registerCommand(id: string, fn: (...args: unknown[]) => unknown) {
    fake.commands.set(id, fn);
    return new Disposable(() => fake.commands.delete(id));
  },
  async executeCommand(id: string, ...args: unknown[]) {
    if (id === 'setContext') {
      fake.context.set(args[0] as string, args[1]);
      return undefined;
    }
    const fn = fake.commands.get(id);
    return fn ? fn(...args) : undefined;
  },
};

export const languages = {
  registerHoverProvider: () => new Disposable(),
  registerCodeLensProvider: () => new Disposable(),
};

export const l10n = {
  t(message: string, ...args: unknown[]): string {
    return message.replace(/\{(\d+)\}/g, (_, i: string) => String(args[Number(i)]));
  },
};

/** A minimal ExtensionContext rooted at `extensionPath`. */
export function fakeContext(extensionPath: string) {
  const store = new Map<string, unknown>();
  return {
    subscriptions: [] as { dispose(): unknown }[],
    extensionUri: Uri.file(extensionPath),
    extensionPath,
    globalStorageUri: Uri.file(fs.mkdtempSync(path.join(os.tmpdir(), 'lens-global-storage-'))),
    asAbsolutePath: (p: string) => path.join(extensionPath, p),
    workspaceState: {
      get: <T>(k: string, d?: T) => (store.has(k) ? (store.get(k) as T) : d),
      update: async (k: string, v: unknown) => {
        if (v === undefined) store.delete(k);
        else store.set(k, v);
      },
      keys: () => [...store.keys()],
    },
  };
}

/** A TextDocument over a string. */
export function fakeDocument(file: string, text: string, languageId: string) {
  const lines = text.split(/\r?\n/);
  return { uri: Uri.file(file), languageId, getText: () => text, lineAt: (n: number) => ({ text: lines[n] ?? '' }), lineCount: lines.length };
}
