/**
 * The architecture rules of docs/architecture.md, checked on the source:
 * which folder may import which, private files, tests kept out of product
 * code, no import cycles, and the size limits for files and functions.
 * Reads files only (no processes); each rule is its own test and its
 * failure lists every violation as `file:line → specifier`, so the message
 * says exactly what to move or split.
 *
 * To add a folder under common/, give it a place in {@linkcode LAYERS} here
 * and in docs/architecture.md.
 */
import assert from "node:assert/strict";
import { posix } from "node:path";
import { READ_PERMISSIONS, testNeeding } from "./_permissions.ts";
import {
  type ImportRef,
  listSourceFiles,
  type ModuleFacts,
  parseModule,
  readModule,
  resolveSpecifier,
} from "./_imports.ts";

const test = testNeeding(READ_PERMISSIONS);

/** The product code: everything the checks apply to (tests beside the code included where said). */
const PRODUCT = [
  "common",
  "data_manager",
  "trading_core",
  "ringstat",
  "strategies",
  "mod.ts",
];
/** Code outside the product, read for its imports of product files: private files and test-only files. */
const OTHER_CODE = ["tests", "bench", "scripts"];

/**
 * The layers, lowest first: a file may import files of its own layer unit
 * and of lower ranks only. Units sharing a rank (ipc and nats, the two
 * roles and the rings tool) never import each other. `common` alone means
 * the files directly in common/ (its mod.ts).
 */
const LAYERS: readonly (readonly string[])[] = [
  ["common/errors"],
  ["common/wire"],
  ["common/config"],
  ["common/os"],
  ["common/runtime"],
  ["common/metrics"],
  ["common/trade_file"],
  ["common/transport"],
  ["common/ipc", "common/nats"],
  ["common/registry", "common/catch_up"],
  ["common/role"],
  ["data_manager", "trading_core", "ringstat", "symbolstat"],
  ["mod.ts"],
  ["strategies"],
];
/** Imports barred although downward: the role runner knows no concrete transport. */
const BARRED: readonly (readonly [string, string])[] = [
  ["common/role", "common/ipc"],
  ["common/role", "common/nats"],
  ["common/role", "common/catch_up"],
];
/** The role folders (and ringstat, the tool beside them): only their own files import them (and the root mod.ts, the library surface). */
const ROLES = ["data_manager", "trading_core", "ringstat", "symbolstat"];
/** Product files longer than this many lines must be split. */
const MAX_FILE_LINES = 500;
/** Functions longer than this many lines need a `// long: <reason>` comment above them. */
const MAX_FUNCTION_LINES = 80;

/** A resolved import between two files of the repository. */
interface Edge {
  from: string;
  to: string;
  ref: ImportRef;
}

interface Project {
  /** Every parsed file: product folders and {@linkcode OTHER_CODE}. */
  files: Map<string, ModuleFacts>;
  /** Imports whose target is a file of the repository. */
  edges: Edge[];
}

let loaded: Promise<Project> | undefined;

/** Parses the repository once for all the tests of this file. */
function project(): Promise<Project> {
  loaded ??= (async () => {
    const paths = await listSourceFiles([...PRODUCT, ...OTHER_CODE]);
    const files = new Map<string, ModuleFacts>();
    for (const path of paths) files.set(path, await readModule(path));
    const edges: Edge[] = [];
    for (const facts of files.values()) {
      for (const ref of facts.imports) {
        const to = resolveSpecifier(facts.path, ref.specifier);
        if (to !== undefined) edges.push({ from: facts.path, to, ref });
      }
    }
    return { files, edges };
  })();
  return loaded;
}

/** `true` for files under one of `folders` (or equal to one of them). */
function isUnder(path: string, folders: readonly string[]): boolean {
  return folders.some((f) => path === f || path.startsWith(`${f}/`));
}

/** Tests and benchmarks beside the code, and their data. */
function isTestFile(path: string): boolean {
  return /_(test|bench)\.[mc]?[jt]sx?$/.test(path) ||
    path.split("/").some((part) => part === "testdata" || part === "fixtures");
}

/** Shipped code: a product file that is not a test or benchmark. */
function isProductCode(path: string): boolean {
  return isUnder(path, PRODUCT) && !isTestFile(path);
}

function describe(edge: Edge): string {
  const type = edge.ref.typeOnly ? " (type)" : "";
  return `${edge.from}:${edge.ref.line} → ${edge.ref.specifier}${type}`;
}

function report(title: string, violations: string[], fix: string): void {
  assert.ok(
    violations.length === 0,
    `${title}: ${violations.length}\n  ${violations.join("\n  ")}\n${fix}`,
  );
}

/** The layer unit of a product path and its rank, or `undefined` if it has none. */
function layerOf(path: string): { unit: string; rank: number } | undefined {
  let best: { unit: string; rank: number } | undefined;
  LAYERS.forEach((units, rank) => {
    for (const unit of units) {
      const inside = isUnder(path, [unit]);
      if (inside && (best === undefined || unit.length > best.unit.length)) {
        best = { unit, rank };
      }
    }
  });
  return best;
}

test("architecture: product code never imports tests/", async () => {
  const { edges } = await project();
  const violations = edges
    .filter((e) => isProductCode(e.from) && isUnder(e.to, ["tests"]))
    .map(describe);
  report(
    "product files importing tests/",
    violations,
    "Move what they need into the product folder, or the file into tests/ if it only serves tests.",
  );
});

test("architecture: only a role's own files import it; strategies import only mod.ts", async () => {
  const { edges } = await project();
  const violations: string[] = [];
  for (const edge of edges) {
    if (!isUnder(edge.from, PRODUCT)) continue;
    if (isUnder(edge.from, ["strategies"])) {
      const allowed = edge.to === "mod.ts" ||
        isUnder(edge.to, ["strategies"]) ||
        (isTestFile(edge.from) && isUnder(edge.to, ["tests"]));
      if (!allowed) {
        violations.push(
          `${describe(edge)}  (strategies import the root mod.ts only)`,
        );
      }
      continue;
    }
    const role = ROLES.find((r) => isUnder(edge.to, [r]));
    if (
      role !== undefined && !isUnder(edge.from, [role]) &&
      edge.from !== "mod.ts"
    ) violations.push(`${describe(edge)}  (${role} is a role)`);
  }
  report(
    "imports across a role's boundary",
    violations,
    "Move the shared code down into common/ (see docs/architecture.md), or export it from the root mod.ts for strategies.",
  );
});

test("architecture: a private _file is imported only from its own folder", async () => {
  const { edges } = await project();
  const violations = edges
    .filter((e) =>
      isUnder(e.to, PRODUCT) && posix.basename(e.to).startsWith("_") &&
      posix.dirname(e.to) !== posix.dirname(e.from)
    )
    .map(describe);
  report(
    "private files imported from another folder",
    violations,
    "Export what is needed through a public file of that folder, or drop the leading _ if it is meant to be shared.",
  );
});

test("architecture: each folder imports only itself and the layers below it", async () => {
  const { files, edges } = await project();
  const violations: string[] = [];
  const unplaced = new Set<string>();
  for (const path of files.keys()) {
    if (isProductCode(path) && layerOf(path) === undefined) unplaced.add(path);
  }
  for (const edge of edges) {
    if (!isProductCode(edge.from) || !isUnder(edge.to, PRODUCT)) continue;
    const from = layerOf(edge.from);
    const to = layerOf(edge.to);
    if (from === undefined || to === undefined) continue; // reported as unplaced
    const barred = BARRED.some(([a, b]) => a === from.unit && b === to.unit);
    if (from.unit === to.unit || (to.rank < from.rank && !barred)) continue;
    const direction = barred
      ? "barred: the runner must not know a concrete transport"
      : to.rank === from.rank
      ? "same layer"
      : "upward";
    violations.push(
      `${describe(edge)}  (${from.unit} → ${to.unit}, ${direction})`,
    );
  }
  for (const path of unplaced) {
    violations.push(
      `${path} is in no layer: add its folder to LAYERS in tests/architecture_test.ts and to docs/architecture.md`,
    );
  }
  report(
    "imports against the layering",
    violations,
    `Layers, lowest first: ${
      LAYERS.map((l) => l.join(", ")).join(" < ")
    }. Move the shared piece down to the lower folder.`,
  );
});

test("architecture: no import cycles", async () => {
  const { edges } = await project();
  const graph = new Map<string, Set<string>>();
  for (const { from, to } of edges) {
    if (!isUnder(from, PRODUCT) || !isUnder(to, PRODUCT)) continue;
    if (!graph.has(from)) graph.set(from, new Set());
    graph.get(from)!.add(to);
  }
  const cycles = stronglyConnected(graph)
    .filter((c) => c.length > 1 || graph.get(c[0])?.has(c[0]))
    .map((component) => shortestCycle(graph, component).join(" → "));
  report(
    "import cycles",
    cycles,
    "Break each cycle: move the piece both files need into a third file below them.",
  );
});

test(`architecture: no product file over ${MAX_FILE_LINES} lines`, async () => {
  const { files } = await project();
  const violations = [...files.values()]
    .filter((f) => isProductCode(f.path) && f.lines > MAX_FILE_LINES)
    .sort((a, b) => b.lines - a.lines)
    .map((f) => `${f.path}: ${f.lines} lines`);
  report(
    `product files over ${MAX_FILE_LINES} lines`,
    violations,
    "Split each into files with one concern each (tests and benchmarks are exempt).",
  );
});

test(`architecture: no function over ${MAX_FUNCTION_LINES} lines without a "long:" reason`, async () => {
  const { files } = await project();
  const violations: string[] = [];
  for (const facts of files.values()) {
    if (!isProductCode(facts.path)) continue;
    for (const fn of facts.functions) {
      if (fn.lines > MAX_FUNCTION_LINES && fn.longReason === undefined) {
        violations.push(
          `${facts.path}:${fn.line} ${fn.name}: ${fn.lines} lines`,
        );
      }
    }
  }
  report(
    `functions over ${MAX_FUNCTION_LINES} lines`,
    violations,
    'Split each, or say why it must stay whole in a comment just above it: "// long: <reason>".',
  );
});

test("architecture: product folders hold no test-only or unused files", async () => {
  const { files, edges } = await project();
  const importers = new Map<string, string[]>();
  for (const { from, to } of edges) {
    importers.set(to, [...importers.get(to) ?? [], from]);
  }
  const violations: string[] = [];
  for (const path of files.keys()) {
    if (!isProductCode(path) || isEntryPoint(path)) continue;
    const by = importers.get(path) ?? [];
    if (by.some(isProductCode)) continue;
    violations.push(
      by.length === 0
        ? `${path}: imported by nothing`
        : `${path}: imported only by tests (${by.join(", ")})`,
    );
  }
  report(
    "product files no product code imports",
    violations,
    "Move test helpers into tests/ (named _x.ts there); delete dead files.",
  );
});

/** Files run or loaded by path rather than imported: main.ts, mod.ts, strategies, a Worker's module (`_x_worker.ts`, loaded by URL). */
function isEntryPoint(path: string): boolean {
  const name = posix.basename(path);
  return name === "main.ts" || name === "mod.ts" ||
    name.endsWith("_worker.ts") || isUnder(path, ["strategies"]);
}

test("architecture: the parser finds every import form and measures functions", () => {
  const source = [
    'import { a } from "./a.ts";',
    'import type { B } from "../b.ts";',
    'export * from "./c.ts";',
    'export type { D } from "./d.ts";',
    'type E = import("./e.ts").E;',
    "const text = 'import { x } from \"./not_an_import.ts\"'; // }",
    "// long: one table, reads best whole",
    "export function table(): RegExp {",
    "  return /}/;",
    "}",
    "class Feed {",
    "  async load(name: string): Promise<unknown> {",
    '    await import("./f.ts");',
    "    return await import(name);",
    "  }",
    "}",
  ].join("\n") + "\n";
  const facts = parseModule("x/y.ts", source);
  assert.deepEqual(
    facts.imports.map((i) =>
      `${i.line} ${i.kind} ${i.specifier} ${i.typeOnly}`
    ),
    [
      "1 import ./a.ts false",
      "2 import ../b.ts true",
      "3 export from ./c.ts false",
      "4 export from ./d.ts true",
      "5 type import() ./e.ts true",
      "13 dynamic import() ./f.ts false",
    ],
  );
  assert.deepEqual(facts.computedImports, [14]);
  assert.deepEqual(
    facts.functions.map((f) => [f.name, f.line, f.lines, f.longReason]),
    [
      ["table", 8, 3, "one table, reads best whole"],
      ["Feed.load", 12, 4, undefined],
    ],
  );
  assert.equal(facts.lines, 16);
  assert.equal(resolveSpecifier("x/y.ts", "../b.ts"), "b.ts");
  assert.equal(resolveSpecifier("x/y.ts", "npm:yaml"), undefined);
});

/** Tarjan's strongly connected components of `graph`. */
function stronglyConnected(graph: Map<string, Set<string>>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const visit = (node: string): void => {
    index.set(node, index.size);
    low.set(node, index.get(node)!);
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node)!, index.get(next)!));
      }
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      components.push(component.sort());
    }
  };
  for (const node of [...graph.keys()].sort()) {
    if (!index.has(node)) visit(node);
  }
  return components;
}

/** The shortest cycle through the first file of `component`, first file repeated at the end. */
function shortestCycle(
  graph: Map<string, Set<string>>,
  component: string[],
): string[] {
  const start = component[0];
  const members = new Set(component);
  const previous = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const node = queue.shift()!;
    for (const next of graph.get(node) ?? []) {
      if (!members.has(next)) continue;
      if (next === start) {
        const path = [start];
        for (let at = node; at !== start; at = previous.get(at)!) {
          path.splice(1, 0, at);
        }
        return [...path, start];
      }
      if (!previous.has(next)) {
        previous.set(next, node);
        queue.push(next);
      }
    }
  }
  return component;
}
