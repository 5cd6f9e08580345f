/**
 * The project's own modules as tests/architecture_test.ts sees them: which
 * files there are, what each imports (static and type imports, `export …
 * from`, `import("…")` and `import("…")` types) and how long its functions
 * are. Files are parsed with Deno's own parser through the lint plugin API
 * (`Deno.lint.runPlugin`, which works inside `deno test`), so strings,
 * comments, template literals and regular expressions never confuse it.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { posix } from "node:path";

/** The repository root (the folder holding deno.json), as a file system path. */
export const ROOT: string = fileURLToPath(new URL("../", import.meta.url));

/** How a module refers to another. */
export type ImportKind =
  | "import"
  | "export from"
  | "dynamic import()"
  | "type import()";

/** One module specifier found in a file. */
export interface ImportRef {
  /** The specifier as written, e.g. `"../wire/codec.ts"`. */
  specifier: string;
  /** The syntax it was found in. */
  kind: ImportKind;
  /** `import type`, `export type … from` and `import("…")` in a type. */
  typeOnly: boolean;
  /** 1-based line of the specifier. */
  line: number;
}

/** A function, method or arrow function and its size. */
export interface FunctionSpan {
  /** Its name, qualified by class or enclosing function (`Pipeline.run`, `serve/onSignal`). */
  name: string;
  /** 1-based line it starts on. */
  line: number;
  /** Lines from its first to its last, both included. */
  lines: number;
  /** The reason given by a `long: …` comment just above it, if any. */
  longReason?: string;
}

/** What tests/architecture_test.ts needs to know about one file. */
export interface ModuleFacts {
  /** Path from the repository root, `/`-separated, e.g. `common/wire/codec.ts`. */
  path: string;
  /** Line count, as `wc -l` gives it. */
  lines: number;
  /** Every import and re-export with a literal specifier. */
  imports: ImportRef[];
  /** Every function with a body, outermost first. */
  functions: FunctionSpan[];
  /** Lines of `import(…)` calls whose specifier is computed (not checked). */
  computedImports: number[];
}

/** Source file extensions the checks read. */
const SOURCE_FILE = /\.(ts|tsx|mts|js|mjs)$/;

/** A `long: <reason>` marker in a comment. */
const LONG_MARKER = /(?:^|[^\w-])long:\s*(\S[^\n]*)/i;

/**
 * The source files under `entries` (folders or files, relative to
 * {@linkcode ROOT}), sorted, as root-relative `/`-separated paths.
 */
export async function listSourceFiles(
  entries: readonly string[],
): Promise<string[]> {
  const found: string[] = [];
  async function walk(path: string): Promise<void> {
    const info = await Deno.stat(posix.join(ROOT, path));
    if (info.isFile) {
      if (SOURCE_FILE.test(path)) found.push(path);
      return;
    }
    for await (const entry of Deno.readDir(posix.join(ROOT, path))) {
      if (entry.name.startsWith(".")) continue;
      await walk(posix.join(path, entry.name));
    }
  }
  for (const entry of entries) await walk(entry);
  return found.sort();
}

/** Reads and parses the file at `path` (relative to {@linkcode ROOT}). */
export async function readModule(path: string): Promise<ModuleFacts> {
  const source = await Deno.readTextFile(posix.join(ROOT, path));
  try {
    return parseModule(path, source);
  } catch (error) {
    throw new Error(`Cannot parse ${path}`, { cause: error });
  }
}

/**
 * The root-relative path `specifier` refers to from the file `from`, or
 * `undefined` for a package (`npm:`, `jsr:`, `node:`, a bare name from the
 * import map, a URL).
 */
export function resolveSpecifier(
  from: string,
  specifier: string,
): string | undefined {
  if (specifier.startsWith("./") || specifier.startsWith("../")) {
    return posix.normalize(posix.join(posix.dirname(from), specifier));
  }
  if (specifier.startsWith("file:")) {
    const path = fileURLToPath(specifier);
    return path.startsWith(ROOT) ? path.slice(ROOT.length) : path;
  }
  if (specifier.startsWith("/")) {
    return specifier.startsWith(ROOT)
      ? specifier.slice(ROOT.length)
      : specifier;
  }
  return undefined;
}

// deno-lint-ignore no-explicit-any
type AnyNode = any;

/** Parses `source` (the text of the file at `path`) with Deno's parser. */
export function parseModule(path: string, source: string): ModuleFacts {
  const lint = (Deno as { lint?: typeof Deno.lint }).lint;
  if (typeof lint?.runPlugin !== "function") {
    throw new Error(
      "Deno.lint.runPlugin is missing: run this under `deno test` with Deno 2.2 or newer",
    );
  }
  const lineStarts = [0];
  for (let i = 0; i < source.length; i++) {
    if (source.charCodeAt(i) === 10) lineStarts.push(i + 1);
  }
  const lineOf = (offset: number): number => {
    let low = 0;
    let high = lineStarts.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if (lineStarts[mid] <= offset) low = mid;
      else high = mid - 1;
    }
    return low + 1;
  };
  const facts: ModuleFacts = {
    path,
    lines: lineStarts.length - (source.endsWith("\n") ? 1 : 0) -
      (source.length === 0 ? 1 : 0),
    imports: [],
    functions: [],
    computedImports: [],
  };
  let comments: { range: [number, number]; value: string }[] = [];

  const addImport = (
    node: AnyNode,
    kind: ImportKind,
    typeOnly: boolean,
  ): void => {
    const literal = literalString(node);
    if (literal === undefined) {
      facts.computedImports.push(lineOf(node.range[0]));
    } else {
      facts.imports.push({
        specifier: literal,
        kind,
        typeOnly,
        line: lineOf(node.range[0]),
      });
    }
  };

  const addFunction = (node: AnyNode, fn: AnyNode): void => {
    if (!fn.body) return; // overloads, abstract and declared methods
    const owner = ownerOf(node);
    facts.functions.push({
      name: qualifiedName(node),
      line: lineOf(node.range[0]),
      lines: lineOf(node.range[1] - 1) - lineOf(node.range[0]) + 1,
      longReason: longReason(comments, source, owner.range[0]),
    });
  };

  const plugin: Deno.lint.Plugin = {
    name: "architecture",
    rules: {
      facts: {
        create(context) {
          comments = context.sourceCode.getAllComments()
            .map((c) => ({ range: c.range, value: c.value }))
            .sort((a, b) => a.range[0] - b.range[0]);
          return {
            ImportDeclaration(node: AnyNode) {
              addImport(node.source, "import", node.importKind === "type");
            },
            ExportNamedDeclaration(node: AnyNode) {
              if (node.source) {
                addImport(
                  node.source,
                  "export from",
                  node.exportKind === "type",
                );
              }
            },
            ExportAllDeclaration(node: AnyNode) {
              addImport(node.source, "export from", node.exportKind === "type");
            },
            ImportExpression(node: AnyNode) {
              addImport(node.source, "dynamic import()", false);
            },
            TSImportType(node: AnyNode) {
              addImport(node.argument, "type import()", true);
            },
            FunctionDeclaration(node: AnyNode) {
              addFunction(node, node);
            },
            FunctionExpression(node: AnyNode) {
              const parent = node.parent?.type;
              if (parent === "MethodDefinition") return;
              if (parent === "PropertyDefinition") return;
              addFunction(node, node);
            },
            ArrowFunctionExpression(node: AnyNode) {
              if (node.parent?.type === "PropertyDefinition") return;
              addFunction(node, node);
            },
            MethodDefinition(node: AnyNode) {
              addFunction(node, node.value);
            },
            PropertyDefinition(node: AnyNode) {
              const value = node.value;
              if (
                value?.type === "ArrowFunctionExpression" ||
                value?.type === "FunctionExpression"
              ) addFunction(node, value);
            },
          };
        },
      },
    },
  };
  lint.runPlugin(plugin, path, source);
  facts.functions.sort((a, b) => a.line - b.line);
  return facts;
}

/** The value of a string literal node (or a template without substitutions). */
function literalString(node: AnyNode): string | undefined {
  if (node?.type === "TSLiteralType") return literalString(node.literal);
  if (node?.type === "Literal" && typeof node.value === "string") {
    return node.value;
  }
  if (node?.type === "TemplateLiteral" && node.expressions.length === 0) {
    return node.quasis[0]?.cooked;
  }
  return undefined;
}

/**
 * The node whose leading comment documents a function: the export or
 * variable declaration around it, else the function (or method) itself.
 */
function ownerOf(node: AnyNode): AnyNode {
  let owner = node;
  if (
    owner.parent?.type === "VariableDeclarator" &&
    owner.parent.init === owner
  ) {
    owner = owner.parent.parent; // the VariableDeclaration
  }
  while (
    owner.parent?.type === "ExportNamedDeclaration" ||
    owner.parent?.type === "ExportDefaultDeclaration"
  ) owner = owner.parent;
  return owner;
}

/**
 * The reason of a `long:` marker in the comments just above `start` (only
 * whitespace between them and the code), or `undefined`.
 */
function longReason(
  comments: { range: [number, number]; value: string }[],
  source: string,
  start: number,
): string | undefined {
  let end = start;
  for (let i = comments.length - 1; i >= 0; i--) {
    const comment = comments[i];
    if (comment.range[1] > end) continue;
    if (source.slice(comment.range[1], end).trim() !== "") break;
    const match = LONG_MARKER.exec(comment.value);
    if (match) return match[1].replace(/\s*\*\/?$/, "").trim();
    end = comment.range[0];
  }
  return undefined;
}

/** `Class.method`, `function`, or `enclosing/inner` for nested functions. */
function qualifiedName(node: AnyNode): string {
  const own = ownName(node);
  for (let up = node.parent; up; up = up.parent) {
    if (isFunctionLike(up)) {
      const outer = up.parent?.type === "MethodDefinition" ||
          up.parent?.type === "PropertyDefinition"
        ? up.parent
        : up;
      return `${qualifiedName(outer)}/${own}`;
    }
  }
  return own;
}

function isFunctionLike(node: AnyNode): boolean {
  return node.type === "FunctionDeclaration" ||
    node.type === "FunctionExpression" ||
    node.type === "ArrowFunctionExpression";
}

function ownName(node: AnyNode): string {
  switch (node.type) {
    case "FunctionDeclaration":
      return node.id?.name ?? "default";
    case "MethodDefinition":
    case "PropertyDefinition": {
      const kind = node.kind === "get" || node.kind === "set"
        ? `${node.kind} `
        : "";
      return `${className(node)}.${kind}${keyName(node.key)}`;
    }
  }
  if (node.id?.name) return node.id.name;
  const parent = node.parent;
  switch (parent?.type) {
    case "VariableDeclarator":
      return parent.id?.name ?? "<anonymous>";
    case "Property":
      return keyName(parent.key);
    case "AssignmentExpression":
      return keyName(parent.left);
    case "CallExpression":
    case "NewExpression":
      return `<callback of ${calleeName(parent.callee)}>`;
  }
  return "<anonymous>";
}

function className(member: AnyNode): string {
  const declaration = member.parent?.parent;
  return declaration?.id?.name ?? "<class>";
}

function keyName(key: AnyNode): string {
  switch (key?.type) {
    case "Identifier":
      return key.name;
    case "PrivateIdentifier":
      return `#${key.name}`;
    case "Literal":
      return String(key.value);
    case "MemberExpression":
      return `${keyName(key.object)}.${keyName(key.property)}`;
    case "ThisExpression":
      return "this";
  }
  return "<computed>";
}

function calleeName(callee: AnyNode): string {
  if (callee?.type === "Identifier") return callee.name;
  if (callee?.type === "MemberExpression") {
    return `${calleeName(callee.object)}.${keyName(callee.property)}`;
  }
  if (callee?.type === "ThisExpression") return "this";
  return "<expression>";
}
