import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import { initBackend } from '../../src/engine/backend';
import { findModelFiles } from '../../src/engine/model/discover';
import { inspectModel } from '../../src/engine/model/inspect';
import { loadModel } from '../../src/engine/model/load';
import { isModelFile } from '../../src/extension/models/model-files';
import { FIXTURES, tempDir } from './helpers/fixtures';
import { rejectsWith } from './helpers/errors';

const KERAS = path.join(FIXTURES, 'keras');



/** A copy of the seq_cnn TF.js model whose config is changed by `edit`. */
function editedTfjs(edit: (layers: Record<string, unknown>[]) => void, withWeights = true): string {
  const dir = tempDir('lens-keras-');
  const source = path.join(KERAS, 'seq_cnn_tfjs');
  const json = JSON.parse(fs.readFileSync(path.join(source, 'model.json'), 'utf8'));
  edit(json.modelTopology.model_config.config.layers);
  fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(json));
  if (withWeights) fs.copyFileSync(path.join(source, 'group1-shard1of1.bin'), path.join(dir, 'group1-shard1of1.bin'));
  return path.join(dir, 'model.json');
}

/** A TF.js GraphModel of the given nodes (no weights). */
function graphJson(nodes: object[]): string {
  const file = path.join(tempDir('lens-keras-'), 'model.json');
  fs.writeFileSync(file, JSON.stringify({ format: 'graph-model', modelTopology: { node: nodes }, weightsManifest: [] }));
  return file;
}

describe('Keras and TF.js model errors name the file and the problem', () => {
  before(async () => {
    await initBackend('cpu');
  });

  it('an unsupported layer names its class and layer', async () => {
    await rejectsWith(loadModel(path.join(KERAS, 'bad', 'with_lambda.h5')), /with_lambda\.h5: unsupported Keras layer 'Lambda' \(layer 'my_lambda'\)/);
    const listed = await inspectModel(path.join(KERAS, 'bad', 'with_lambda.h5'));
    assert.deepEqual(listed.unsupported, ["'Lambda' (layer 'my_lambda')"]);
  });

  it('an .h5 of weights only says so', async () => {
    await rejectsWith(loadModel(path.join(KERAS, 'bad', 'weights_only.h5')), /weights_only\.h5: no 'model_config' attribute/, /weights only/);
  });

  it('a layer whose stored weights do not match names the layer and what is missing', async () => {
    await rejectsWith(loadModel(path.join(KERAS, 'bad', 'missing_bias.keras')), /missing_bias\.keras: layer 'conv2d' \(Conv2D\): expected weights kernel, bias; the file has #0 \[3,3,3,6\]/);
  });

  it('files that are not what their extension says', async () => {
    const dir = tempDir('lens-keras-');
    fs.writeFileSync(path.join(dir, 'text.keras'), 'not a zip');
    await rejectsWith(loadModel(path.join(dir, 'text.keras')), /text\.keras: not a \.keras archive/);
    fs.writeFileSync(path.join(dir, 'cut.h5'), fs.readFileSync(path.join(KERAS, 'seq_cnn.h5')).subarray(0, 600));
    await rejectsWith(loadModel(path.join(dir, 'cut.h5')), /cut\.h5: /);
    fs.writeFileSync(path.join(dir, 'model.json'), '{"modelTopology": ');
    await rejectsWith(loadModel(path.join(dir, 'model.json')), /model\.json: not valid JSON/);
    fs.writeFileSync(path.join(dir, 'other.json'), '{"name": "a package"}');
    await rejectsWith(loadModel(path.join(dir, 'other.json')), /other\.json: no modelTopology; not a TF\.js model\.json/);
  });

  it('a TF.js model without its weight shard names the shard', async () => {
    await rejectsWith(loadModel(editedTfjs(() => {}, false)), /group1-shard1of1\.bin: cannot read the weight shard of model\.json \(ENOENT\)/);
  });

  it('unsupported layer classes, data formats and activations in TF.js LayersModels', async () => {
    const rename = editedTfjs((layers) => {
      layers[2].class_name = 'Conv3D';
    });
    await rejectsWith(loadModel(rename), /model\.json: unsupported Keras layer 'Conv3D' \(layer 'conv2d'\)/);
    const channelsFirst = editedTfjs((layers) => {
      (layers[2].config as Record<string, unknown>).data_format = 'channels_first';
    });
    await rejectsWith(loadModel(channelsFirst), /model\.json: layer 'conv2d' \(Conv2D\): data_format 'channels_first' is not supported/);
    const activation = editedTfjs((layers) => {
      (layers[2].config as Record<string, unknown>).activation = 'my_custom';
    });
    await rejectsWith(loadModel(activation), /model\.json: layer 'conv2d' \(Conv2D\): activation "my_custom" is not supported/);
  });

  it('an unsupported TensorFlow op in a GraphModel names the op and node', async () => {
    const shape = { shape: { dim: [{ size: '-1' }, { size: '4' }, { size: '4' }, { size: '1' }] } };
    const file = graphJson([
      { name: 'x', op: 'Placeholder', attr: { shape } },
      { name: 'c', op: 'Cumsum', input: ['x'] },
    ]);
    await rejectsWith(loadModel(file), /model\.json: unsupported TensorFlow op 'Cumsum' \(node 'c'\)/);
    assert.deepEqual((await inspectModel(file)).unsupported, ["'Cumsum' (node 'c')"]);
  });

  it('model files are found by extension (and TF.js by the name model.json)', async () => {
    const found = (await findModelFiles(KERAS)).map((f) => path.relative(KERAS, f));
    assert.deepEqual(found, [
      'bad/missing_bias.keras',
      'bad/weights_only.h5',
      'bad/with_lambda.h5',
      'func_branchy.h5',
      'func_branchy.keras',
      'func_branchy_tfjs/model.json',
      'nested.h5',
      'nested.keras',
      'nested_tfjs/model.json',
      'seq_cnn.h5',
      'seq_cnn.keras',
      'seq_cnn_tfjs/model.json',
    ]);
    for (const f of ['a/m.onnx', 'm.keras', 'M.H5', 'm.hdf5', 'web/model.json', 'web/mnist.model.json']) assert.ok(isModelFile(f), f);
    for (const f of ['package.json', 'weights.bin', 'm.pt', 'reference/meta.json']) assert.ok(!isModelFile(f), f);
  });
});
