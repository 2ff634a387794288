// build.mjs — builds the dashboard into web/dist (run by `make web`):
// dist/index.html and dist/assets/app-<hash>.{js,css}.  The outline of China
// comes from Natural Earth (the world-atlas package, 1:50m), cut out and
// rounded here at build time, so the page ships about 100 KB of outline and
// never fetches anything from outside the server.
import * as esbuild from 'esbuild';
import { merge } from 'topojson-client';
import { readFileSync, writeFileSync, rmSync, mkdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, 'dist');
const require = (p) => JSON.parse(readFileSync(join(here, 'node_modules', p), 'utf8'));

// ISO 3166 numeric ids in Natural Earth: the mainland with Hainan (156),
// Taiwan (158), Hong Kong (344) and Macao (446) are separate units there.
const CHINA_IDS = new Set(['156', '158', '344', '446']);
const world = require('world-atlas/countries-50m.json');
const parts = world.objects.countries.geometries.filter((g) => CHINA_IDS.has(g.id));
if (parts.length !== CHINA_IDS.size) throw new Error('world-atlas: China\'s units not found');
const round = (c) => (typeof c[0] === 'number' ? [Math.round(c[0] * 1000) / 1000, Math.round(c[1] * 1000) / 1000] : c.map(round));
const outline = merge(world, parts); // one MultiPolygon, inner borders dissolved
outline.coordinates = round(outline.coordinates);
const china = { type: 'Feature', properties: { name: 'China', name_zh: '中国' }, geometry: outline };

const genPlugin = {
  name: 'china-outline',
  setup(build) {
    build.onResolve({ filter: /^virtual:china-outline$/ }, (a) => ({ path: a.path, namespace: 'gen' }));
    build.onLoad({ filter: /.*/, namespace: 'gen' }, () => ({ contents: JSON.stringify(china), loader: 'json' }));
  },
};

rmSync(dist, { recursive: true, force: true });
mkdirSync(join(dist, 'assets'), { recursive: true });
const res = await esbuild.build({
  entryPoints: [join(here, 'src/main.js')],
  bundle: true,
  minify: true,
  sourcemap: false,
  format: 'esm',
  target: ['es2020'],
  outdir: join(dist, 'assets'),
  entryNames: 'app-[hash]',
  metafile: true,
  plugins: [genPlugin],
  logLevel: 'warning',
});
const outs = Object.keys(res.metafile.outputs).map((p) => basename(p));
const js = outs.find((f) => f.endsWith('.js'));
const css = outs.find((f) => f.endsWith('.css'));
const html = readFileSync(join(here, 'src/index.html'), 'utf8')
  .replace('%APP_JS%', `/assets/${js}`)
  .replace('%APP_CSS%', `/assets/${css}`);
writeFileSync(join(dist, 'index.html'), html);
console.log(`web: built dist/index.html, assets/${js}, assets/${css}`);
