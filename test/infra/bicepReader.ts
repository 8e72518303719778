// Reads the Bicep in infra/ for the consistency checks (consistency.ts): a tokenizer, the
// top-level declarations (params, vars, resources, modules, outputs) and helpers that read a
// value at a property path or resolve it to string literals. It is a reader, NOT a compiler: it
// does not know Bicep's functions, types, resource schemas or API versions, and accepts text the
// compiler rejects. The compiler check is the Bicep CLI, run where it exists (CI, a workstation):
//   az bicep build --file infra/main.bicep --stdout > /dev/null
//
// Everything here is a plain function of text so the tests can feed it mutated copies.

export type TokenKind = 'ident' | 'string' | 'number' | 'punct' | 'newline';

export interface Token {
  kind: TokenKind;
  /** Source text (a string token's text includes its quotes). */
  text: string;
  line: number;
  /** Strings without interpolation: the unescaped value. */
  value?: string;
  /** Strings: the tokens of each `${…}` interpolation. */
  parts?: Token[][];
}

export interface Tokenized {
  tokens: Token[];
  problems: string[];
}

const CLOSERS: Record<string, string> = { '{': '}', '[': ']', '(': ')' };
const OPERATORS = ['::', '==', '!=', '<=', '>=', '&&', '||', '??', '=>', '.?', '=~', '!~'];
const ESCAPES: Record<string, string> = { n: '\n', r: '\r', t: '\t', '\\': '\\', "'": "'", $: '$' };

class Scanner {
  private pos = 0;
  private line = 1;
  readonly problems: string[] = [];

  constructor(private readonly src: string) {}

  /** Scans tokens; inside an interpolation, stops after the `}` that closes it. */
  scan(inInterpolation: boolean): Token[] {
    const src = this.src;
    const tokens: Token[] = [];
    const open: { ch: string; line: number }[] = [];
    while (this.pos < src.length) {
      const c = src[this.pos]!;
      const next = src[this.pos + 1];
      if (c === '\n') {
        tokens.push({ kind: 'newline', text: '\n', line: this.line });
        this.line++;
        this.pos++;
      } else if (c === ' ' || c === '\t' || c === '\r') {
        this.pos++;
      } else if (c === '/' && next === '/') {
        const end = src.indexOf('\n', this.pos);
        this.pos = end < 0 ? src.length : end;
      } else if (c === '/' && next === '*') {
        const end = src.indexOf('*/', this.pos + 2);
        const startLine = this.line;
        const stop = end < 0 ? src.length : end + 2;
        this.line += countNewlines(src.slice(this.pos, stop));
        this.pos = stop;
        if (end < 0) this.problems.push(`line ${startLine}: unterminated /* comment`);
      } else if (c === "'") {
        tokens.push(this.string());
      } else if (/[A-Za-z_]/.test(c)) {
        const match = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(this.pos, this.pos + 200))!;
        tokens.push({ kind: 'ident', text: match[0], line: this.line });
        this.pos += match[0].length;
      } else if (/[0-9]/.test(c)) {
        const match = /^[0-9]+(\.[0-9]+)?/.exec(src.slice(this.pos, this.pos + 50))!;
        tokens.push({ kind: 'number', text: match[0], line: this.line });
        this.pos += match[0].length;
      } else if (c in CLOSERS) {
        open.push({ ch: c, line: this.line });
        tokens.push({ kind: 'punct', text: c, line: this.line });
        this.pos++;
      } else if (c === '}' || c === ']' || c === ')') {
        if (c === '}' && inInterpolation && open.length === 0) {
          this.pos++;
          return tokens;
        }
        const opener = open.pop();
        if (!opener) {
          this.problems.push(`line ${this.line}: '${c}' closes nothing`);
        } else if (CLOSERS[opener.ch] !== c) {
          this.problems.push(`line ${this.line}: '${c}' closes '${opener.ch}' opened at line ${opener.line}`);
        }
        tokens.push({ kind: 'punct', text: c, line: this.line });
        this.pos++;
      } else {
        const op = OPERATORS.find((o) => src.startsWith(o, this.pos)) ?? c;
        tokens.push({ kind: 'punct', text: op, line: this.line });
        this.pos += op.length;
      }
    }
    if (inInterpolation) this.problems.push(`line ${this.line}: unterminated \${…} interpolation`);
    for (const opener of open) this.problems.push(`line ${opener.line}: '${opener.ch}' is never closed`);
    return tokens;
  }

  private string(): Token {
    const src = this.src;
    const start = this.pos;
    const line = this.line;
    if (src.startsWith("'''", this.pos)) {
      const end = src.indexOf("'''", this.pos + 3);
      const stop = end < 0 ? src.length : end + 3;
      const value = src.slice(this.pos + 3, end < 0 ? src.length : end);
      this.line += countNewlines(src.slice(this.pos, stop));
      this.pos = stop;
      if (end < 0) this.problems.push(`line ${line}: unterminated ''' string`);
      return { kind: 'string', text: src.slice(start, stop), line, value, parts: [] };
    }
    this.pos++;
    let value = '';
    let interpolated = false;
    const parts: Token[][] = [];
    for (;;) {
      const ch = src[this.pos];
      if (ch === undefined || ch === '\n') {
        this.problems.push(`line ${line}: unterminated string`);
        break;
      }
      if (ch === '\\') {
        const escaped = src[this.pos + 1] ?? '';
        value += ESCAPES[escaped] ?? escaped;
        this.pos += 2;
      } else if (ch === "'") {
        this.pos++;
        break;
      } else if (ch === '$' && src[this.pos + 1] === '{') {
        this.pos += 2;
        parts.push(this.scan(true));
        interpolated = true;
      } else {
        value += ch;
        this.pos++;
      }
    }
    const token: Token = { kind: 'string', text: src.slice(start, this.pos), line, parts };
    if (!interpolated) token.value = value;
    return token;
  }
}

function countNewlines(text: string): number {
  let n = 0;
  for (const ch of text) if (ch === '\n') n++;
  return n;
}

export function tokenize(text: string): Tokenized {
  const scanner = new Scanner(text);
  const tokens = scanner.scan(false);
  return { tokens, problems: scanner.problems };
}

// ---------------------------------------------------------------------------------------------
// The file model: top-level declarations with the token ranges of their values and bodies.

export type DeclarationKind = 'param' | 'var' | 'resource' | 'module' | 'output' | 'type' | 'func' | 'import' | 'metadata';

/** A half-open range [start, end) of indexes into BicepFile.tokens. */
export interface Range {
  start: number;
  end: number;
}

export interface Declaration {
  kind: DeclarationKind;
  name: string;
  line: number;
  /** The statement's range (without decorators). */
  statement: Range;
  /** The expression after `=` (param default, var value, resource/module value, output value). */
  value?: Range;
  /** Resources: the type string (`Microsoft.Storage/storageAccounts@2023-05-01`); modules: the path. */
  typeOrPath?: string;
  /** Params: has a default (or a nullable type). */
  optional?: boolean;
  existing?: boolean;
  /** Resources and modules: index of the body's `{`. */
  bodyOpen?: number;
  /** Resources and modules declared with `[for x in …: {…}]`. */
  loopVariable?: string;
  loopSource?: Range;
  /** Declared inside another resource's body. */
  nested?: boolean;
}

export interface BicepFile {
  text: string;
  tokens: Token[];
  problems: string[];
  declarations: Declaration[];
}

const DECLARATION_KEYWORDS = new Set(['param', 'var', 'resource', 'module', 'output', 'type', 'func', 'import', 'metadata']);

/** Statements at depth 0: each ends at a newline outside brackets. */
function topLevelStatements(tokens: Token[]): Range[] {
  const statements: Range[] = [];
  let i = 0;
  while (i < tokens.length) {
    while (i < tokens.length && tokens[i]!.kind === 'newline') i++;
    if (i >= tokens.length) break;
    const start = i;
    let depth = 0;
    while (i < tokens.length && !(depth === 0 && tokens[i]!.kind === 'newline')) {
      const t = tokens[i]!;
      if (t.kind === 'punct' && t.text in CLOSERS) depth++;
      else if (t.kind === 'punct' && (t.text === '}' || t.text === ']' || t.text === ')')) depth = Math.max(0, depth - 1);
      i++;
    }
    statements.push({ start, end: i });
  }
  return statements;
}

export function parseBicep(text: string): BicepFile {
  const { tokens, problems } = tokenize(text);
  const file: BicepFile = { text, tokens, problems, declarations: [] };
  const close = matchingCloses(tokens);

  for (const statement of topLevelStatements(tokens)) {
    const head = tokens[statement.start]!;
    if (head.kind === 'ident' && DECLARATION_KEYWORDS.has(head.text)) {
      const declaration = declarationAt(tokens, statement, close);
      if (declaration) file.declarations.push(declaration);
    }
  }

  // Nested resources (`resource child 'type' = {…}` inside a resource body).
  for (let j = 1; j + 2 < tokens.length; j++) {
    const t = tokens[j]!;
    if (t.kind !== 'ident' || t.text !== 'resource' || tokens[j - 1]!.kind !== 'newline') continue;
    if (file.declarations.some((d) => d.statement.start === j)) continue;
    const nameToken = tokens[j + 1]!;
    if (nameToken.kind !== 'ident') continue;
    let end = j;
    let depth = 0;
    while (end < tokens.length && !(depth === 0 && tokens[end]!.kind === 'newline' && end > j + 3)) {
      const u = tokens[end]!;
      if (u.kind === 'punct' && u.text in CLOSERS) depth++;
      else if (u.kind === 'punct' && (u.text === '}' || u.text === ']' || u.text === ')')) depth--;
      if (depth < 0) break;
      end++;
    }
    const declaration = declarationAt(tokens, { start: j, end }, close);
    if (declaration) file.declarations.push({ ...declaration, nested: true });
  }

  return file;
}

/** For each opening bracket index, the index of its closing bracket (within one token list). */
function matchingCloses(tokens: Token[]): Map<number, number> {
  const result = new Map<number, number>();
  const stack: number[] = [];
  tokens.forEach((t, i) => {
    if (t.kind !== 'punct') return;
    if (t.text in CLOSERS) stack.push(i);
    else if (t.text === '}' || t.text === ']' || t.text === ')') {
      const open = stack.pop();
      if (open !== undefined) result.set(open, i);
    }
  });
  return result;
}

function declarationAt(tokens: Token[], statement: Range, close: Map<number, number>): Declaration | undefined {
  const kind = tokens[statement.start]!.text as DeclarationKind;
  const nameToken = tokens[statement.start + 1];
  if (kind === 'import') return { kind, name: '', line: tokens[statement.start]!.line, statement };
  if (!nameToken || nameToken.kind !== 'ident') return undefined;
  const declaration: Declaration = { kind, name: nameToken.text, line: nameToken.line, statement };
  let equals = -1;
  let depth = 0;
  for (let k = statement.start + 2; k < statement.end; k++) {
    const t = tokens[k]!;
    if (t.kind === 'punct' && t.text in CLOSERS) depth++;
    else if (t.kind === 'punct' && (t.text === '}' || t.text === ']' || t.text === ')')) depth--;
    else if (depth === 0 && t.text === '=') {
      equals = k;
      break;
    }
  }
  if (equals >= 0) declaration.value = { start: equals + 1, end: statement.end };
  if (kind === 'param') {
    const typeTokens = tokens.slice(statement.start + 2, equals >= 0 ? equals : statement.end);
    declaration.optional = equals >= 0 || typeTokens.some((t) => t.text === '?');
  }
  if (kind === 'resource' || kind === 'module') {
    const typeToken = tokens[statement.start + 2];
    if (typeToken?.kind === 'string') declaration.typeOrPath = typeToken.value;
    declaration.existing = tokens[statement.start + 3]?.text === 'existing';
    if (declaration.value) {
      let k = declaration.value.start;
      if (tokens[k]?.text === 'if') k = (close.get(k + 1) ?? k) + 1;
      if (tokens[k]?.text === '[' && tokens[k + 1]?.text === 'for') {
        const loopOpen = k;
        const loopVar = tokens[k + 2];
        if (loopVar?.kind === 'ident') declaration.loopVariable = loopVar.text;
        let m = k + 2;
        while (m < statement.end && tokens[m]!.text !== 'in') m++;
        const sourceStart = m + 1;
        // The source ends at the ':' at the loop's own depth.
        let d = 0;
        for (m = sourceStart; m < (close.get(loopOpen) ?? statement.end); m++) {
          const t = tokens[m]!;
          if (t.kind === 'punct' && t.text in CLOSERS) d++;
          else if (t.kind === 'punct' && (t.text === '}' || t.text === ']' || t.text === ')')) d--;
          else if (d === 0 && t.text === ':') break;
        }
        declaration.loopSource = { start: sourceStart, end: m };
        k = m + 1;
        while (tokens[k]?.kind === 'newline') k++;
        if (tokens[k]?.text === 'if') k = (close.get(k + 1) ?? k) + 1;
      }
      while (tokens[k]?.kind === 'newline') k++;
      if (tokens[k]?.text === '{') declaration.bodyOpen = k;
    }
  }
  return declaration;
}

// ---------------------------------------------------------------------------------------------
// Reading values (used by the consistency checks).

/** The value range of `key:` directly inside the object whose `{` is at openIndex. */
export function valueOfKey(tokens: Token[], openIndex: number, key: string): Range | undefined {
  const end = closeOf(tokens, openIndex);
  let depth = 0;
  for (let i = openIndex + 1; i < end; i++) {
    const t = tokens[i]!;
    if (t.kind === 'punct' && t.text in CLOSERS) depth++;
    else if (t.kind === 'punct' && (t.text === '}' || t.text === ']' || t.text === ')')) depth--;
    else if (depth === 0 && keyName(t) === key && tokens[i + 1]?.text === ':') {
      const prev = tokens[i - 1]!;
      if (!(prev.kind === 'newline' || prev.text === '{' || prev.text === ',')) continue;
      const start = i + 2;
      let k = start;
      let d = 0;
      while (k < end) {
        const u = tokens[k]!;
        if (d === 0 && (u.kind === 'newline' || u.text === ',')) break;
        if (u.kind === 'punct' && u.text in CLOSERS) d++;
        else if (u.kind === 'punct' && (u.text === '}' || u.text === ']' || u.text === ')')) d--;
        k++;
      }
      return { start, end: k };
    }
  }
  return undefined;
}

/** The value at a path of keys, descending through object literals from the `{` at openIndex. */
export function valueAtPath(tokens: Token[], openIndex: number, path: string[]): Range | undefined {
  let open = openIndex;
  let range: Range | undefined;
  for (const key of path) {
    range = valueOfKey(tokens, open, key);
    if (!range) return undefined;
    const first = firstSignificant(tokens, range);
    if (first !== undefined && tokens[first]!.text === '{') open = first;
  }
  return range;
}

/** Keys of the object literal at `{` (the first significant token of range, or openIndex). */
export function objectKeys(tokens: Token[], range: Range): string[] {
  const open = firstSignificant(tokens, range);
  if (open === undefined || tokens[open]!.text !== '{') return [];
  const end = closeOf(tokens, open);
  const keys: string[] = [];
  let depth = 0;
  for (let i = open + 1; i < end; i++) {
    const t = tokens[i]!;
    if (t.kind === 'punct' && t.text in CLOSERS) depth++;
    else if (t.kind === 'punct' && (t.text === '}' || t.text === ']' || t.text === ')')) depth--;
    else if (depth === 0 && tokens[i + 1]?.text === ':') {
      const prev = tokens[i - 1]!;
      const name = keyName(t);
      if (name !== undefined && (prev.kind === 'newline' || prev.text === '{' || prev.text === ',')) keys.push(name);
    }
  }
  return keys;
}

function keyName(t: Token): string | undefined {
  if (t.kind === 'ident') return t.text;
  if (t.kind === 'string') return t.value;
  return undefined;
}

export function firstSignificant(tokens: Token[], range: Range): number | undefined {
  for (let i = range.start; i < range.end; i++) if (tokens[i]!.kind !== 'newline') return i;
  return undefined;
}

/** Index of the bracket closing the one at openIndex. */
export function closeOf(tokens: Token[], openIndex: number): number {
  let depth = 0;
  for (let i = openIndex; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.kind === 'punct' && t.text in CLOSERS) depth++;
    else if (t.kind === 'punct' && (t.text === '}' || t.text === ']' || t.text === ')')) {
      depth--;
      if (depth === 0) return i;
    }
  }
  return tokens.length;
}

/** The source-like text of a range (tokens joined; for comparing expressions). */
export function rangeText(tokens: Token[], range: Range): string {
  return tokens
    .slice(range.start, range.end)
    .filter((t) => t.kind !== 'newline')
    .map((t) => t.text)
    .join(' ');
}

/** Top-level arguments of the call whose name is at nameIndex (`name(` … `)`). */
export function callArguments(tokens: Token[], nameIndex: number): Range[] {
  const open = nameIndex + 1;
  if (tokens[open]?.text !== '(') return [];
  const end = closeOf(tokens, open);
  const args: Range[] = [];
  let start = open + 1;
  let depth = 0;
  for (let i = open + 1; i < end; i++) {
    const t = tokens[i]!;
    if (t.kind === 'punct' && t.text in CLOSERS) depth++;
    else if (t.kind === 'punct' && (t.text === '}' || t.text === ']' || t.text === ')')) depth--;
    else if (depth === 0 && t.text === ',') {
      args.push({ start, end: i });
      start = i + 1;
    }
  }
  if (end > start) args.push({ start, end });
  return args;
}

export function declaration(file: BicepFile, name: string): Declaration | undefined {
  return file.declarations.find((d) => d.name === name && d.kind !== 'output');
}

/**
 * Resolves an expression to the strings it can stand for: a literal, a var or a param default
 * (followed), `ident.key` into an object var, an array literal, and concat()/union()/a ternary
 * (all branches). Undefined when any part is not a literal.
 */
export function resolveStrings(file: BicepFile, range: Range, seen = new Set<string>()): string[] | undefined {
  const { tokens } = file;
  const significant: number[] = [];
  for (let i = range.start; i < range.end; i++) if (tokens[i]!.kind !== 'newline') significant.push(i);
  if (significant.length === 0) return undefined;
  const first = significant[0]!;
  const t = tokens[first]!;

  // A ternary at the top level: both branches.
  const question = topLevelIndex(tokens, significant, '?');
  if (question !== undefined) {
    const colon = topLevelIndex(
      tokens,
      significant.filter((i) => i > question),
      ':',
    );
    if (colon === undefined) return undefined;
    const a = resolveStrings(file, { start: question + 1, end: colon }, seen);
    const b = resolveStrings(file, { start: colon + 1, end: range.end }, seen);
    return a && b ? [...a, ...b] : undefined;
  }
  if (significant.length === 1 && t.kind === 'string') return t.value === undefined ? undefined : [t.value];
  if (significant.length === 1 && t.kind === 'number') return [t.text];
  if (t.kind === 'ident' && significant.length === 1) {
    if (seen.has(t.text)) return undefined;
    const d = declaration(file, t.text);
    if (!d?.value || (d.kind !== 'var' && d.kind !== 'param')) return undefined;
    return resolveStrings(file, d.value, new Set([...seen, t.text]));
  }
  if (
    t.kind === 'ident' &&
    significant.length === 3 &&
    tokens[significant[1]!]!.text === '.' &&
    tokens[significant[2]!]!.kind === 'ident'
  ) {
    const d = declaration(file, t.text);
    if (!d?.value || d.kind !== 'var') return undefined;
    const open = firstSignificant(tokens, d.value);
    if (open === undefined || tokens[open]!.text !== '{') return undefined;
    const inner = valueOfKey(tokens, open, tokens[significant[2]!]!.text);
    return inner ? resolveStrings(file, inner, seen) : undefined;
  }
  if (t.text === '[' && closeOf(tokens, first) === significant[significant.length - 1]) {
    const values: string[] = [];
    for (const element of elements(tokens, first)) {
      const resolved = resolveStrings(file, element, seen);
      if (!resolved) return undefined;
      values.push(...resolved);
    }
    return values;
  }
  if (
    t.kind === 'ident' &&
    (t.text === 'concat' || t.text === 'union') &&
    closeOf(tokens, first + 1) === significant[significant.length - 1]
  ) {
    const values: string[] = [];
    for (const arg of callArguments(tokens, first)) {
      const resolved = resolveStrings(file, arg, seen);
      if (!resolved) return undefined;
      values.push(...resolved);
    }
    return values;
  }
  return undefined;
}

function topLevelIndex(tokens: Token[], significant: number[], text: string): number | undefined {
  let depth = 0;
  for (const i of significant) {
    const t = tokens[i]!;
    if (t.kind === 'punct' && t.text in CLOSERS) depth++;
    else if (t.kind === 'punct' && (t.text === '}' || t.text === ']' || t.text === ')')) depth--;
    else if (depth === 0 && t.text === text) return i;
  }
  return undefined;
}

/** The elements of the array literal whose `[` is at openIndex (newline- or comma-separated). */
export function elements(tokens: Token[], openIndex: number): Range[] {
  const end = closeOf(tokens, openIndex);
  const result: Range[] = [];
  let start = openIndex + 1;
  let depth = 0;
  const push = (stop: number): void => {
    if (tokens.slice(start, stop).some((t) => t.kind !== 'newline')) result.push({ start, end: stop });
  };
  for (let i = openIndex + 1; i < end; i++) {
    const t = tokens[i]!;
    if (t.kind === 'punct' && t.text in CLOSERS) depth++;
    else if (t.kind === 'punct' && (t.text === '}' || t.text === ']' || t.text === ')')) depth--;
    else if (depth === 0 && (t.kind === 'newline' || t.text === ',')) {
      push(i);
      start = i + 1;
    }
  }
  push(end);
  return result;
}
