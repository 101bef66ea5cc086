// Runs the scenario on Node with the package loaded through require(), as a CommonJS user would.
const lib = require('../../dist/index.cjs');

import('./scenario.mjs')
  .then(({ runScenario }) => runScenario(lib, JSON.parse(process.argv[2])))
  .then((results) => console.log(JSON.stringify(results)));
