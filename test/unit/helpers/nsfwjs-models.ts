import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { REPO } from './fixtures';

/** nsfwjs's real TF.js models (a dev dependency), shipped as .min.js modules wrapping model.json and base64 weight shards. */
export const NSFWJS_MODELS = {
  mobilenet_v2: { shards: 1, size: 224 },
  mobilenet_v2_mid: { shards: 2, size: 224 },
  inception_v3: { shards: 6, size: 299 },
} as const;

export type NsfwjsModel = keyof typeof NSFWJS_MODELS;

/** nsfwjs's class names, index = class id (its nsfw_classes module). */
export const NSFWJS_CLASSES = ['Drawing', 'Hentai', 'Neutral', 'Porn', 'Sexy'];

/**
 * Writes the model as TF.js files (model.json + group1-shardNofM) into `dir`, as `tf.io` would
 * read them, and returns the model.json path. The modules are required by file path (the
 * package's exports map does not list them).
 */
export function extractNsfwjsModel(name: NsfwjsModel, dir: string): string {
  const require = createRequire(__filename);
  const base = path.join(REPO, 'node_modules', 'nsfwjs', 'dist', 'models', name);
  const json = require(path.join(base, 'model.min.js')) as { weightsManifest: { paths: string[] }[] };
  fs.mkdirSync(dir, { recursive: true });
  for (const group of json.weightsManifest) {
    for (const shard of group.paths) {
      const base64 = require(path.join(base, `${shard}.min.js`)) as string;
      fs.writeFileSync(path.join(dir, shard), Buffer.from(base64, 'base64'));
    }
  }
  const file = path.join(dir, 'model.json');
  fs.writeFileSync(file, JSON.stringify(json));
  return file;
}
