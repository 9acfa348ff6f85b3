// Builds the dashboard's static assets into the directory given as the first
// argument (default dist/): the page's own files from src/ plus uPlot from
// node_modules. No bundler: the page is plain ES2020 that browsers run as is.
import { mkdirSync, copyFileSync, readdirSync, existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = process.argv[2] || join(here, 'dist');
mkdirSync(out, { recursive: true });
for (const name of readdirSync(join(here, 'src'))) copyFileSync(join(here, 'src', name), join(out, name));
const uplot = join(here, 'node_modules', 'uplot', 'dist');
if (!existsSync(uplot)) {
  console.error('web/build.mjs: node_modules/uplot is missing; run npm ci in web/');
  process.exit(1);
}
copyFileSync(join(uplot, 'uPlot.iife.min.js'), join(out, 'uPlot.iife.min.js'));
copyFileSync(join(uplot, 'uPlot.min.css'), join(out, 'uPlot.min.css'));
console.log(`web/build.mjs: assets in ${out}`);
