/**
 * The `gm` command. Each subcommand lives in its own module (demo.ts, commands.ts); this file wires them to
 * commander, turns errors into a one-line message and a non-zero exit code, and prints `--json` reports on stdout.
 */
import { cliVersion } from './version';
import { Argument, Command, Option } from 'commander';
import type { anomaly, codings, compress, decompress, evaluate, interpolate, latentMap, reconstruct, sample, train } from './commands';
import { MODEL_SUMMARIES } from './model-names';
import { BACKEND_CHOICES, fourIndices, HIDDEN_ACTIVATIONS, intList, labelList, nonNegativeInt, numberList, OPTIMIZER_CHOICES, positiveInt, positiveNumber, unitInterval, widthList, workersOption } from './options';
import { outputMode, Reporter } from './progress';
import { DATA_HELP, parseDataSpec } from './spec';

// The commands load TensorFlow.js and the models only when they run, so --help and flag errors answer at once.
const commands = () => import('./commands');

type Backend = (typeof BACKEND_CHOICES)[number];


const program = new Command();
program
  .name('gm')
  .description('Deep generative models on TensorFlow.js: train, evaluate, sample and compress.')
  .version(cliVersion, '-V, --version', 'print the version of @gm/cli')
  .showHelpAfterError('(run with --help for usage)');

/** Options every model command shares. */
function common(cmd: Command, seedDefault = 0): Command {
  return cmd
    .option('--seed <n>', 'random seed', nonNegativeInt, seedDefault)
    .addOption(new Option('--backend <name>', 'force a backend (default: fastest available, or GM_BACKEND)').choices(BACKEND_CHOICES))
    .option('--json', 'print a JSON report on stdout instead of progress lines', false);
}

/** Runs a command body with a reporter and prints its report as JSON when asked. */
function act<O extends { json: boolean }>(body: (o: O, reporter: Reporter, ...args: string[]) => Promise<unknown>) {
  return async (...args: unknown[]) => {
    const cmd = args[args.length - 1] as Command;
    const o = cmd.opts<O>();
    const positionals = args.slice(0, -2) as string[];
    const reporter = new Reporter(outputMode(o.json));
    try {
      const report = await body(o, reporter, ...positionals);
      if (o.json) console.log(JSON.stringify(report, null, 2));
    } finally {
      reporter.stop();
    }
  };
}

const dataOption = () => new Option('--data <spec>', `dataset: ${DATA_HELP}`).argParser(parseDataSpec).default(parseDataSpec('mnist-bundled'), 'mnist-bundled');
const modelOption = () => new Option('--model <dir>', 'checkpoint folder written by gm train (or gm demo: gm-demo-output/checkpoint)').makeOptionMandatory();

// ------------------------------------------------------------------------------------------------ demo
common(
  program
    .command('demo')
    .description(
      'Train the reference VAE (784-100-40, Bernoulli) on the bundled digits, evaluate its −ELBO and IS log-likelihood, write sample / reconstruction / interpolation / latent-map PNGs, bits-back compress the test digits, check the round trip and compare bits/dim with gzip, brotli and PNG.',
    )
    .option('--epochs <n>', 'training epochs', positiveInt, 30)
    .option('--batch <n>', 'batch size', positiveInt, 100)
    .option('--k <n>', 'importance samples per test digit for the log-likelihood', positiveInt, 100)
    .option('--out <dir>', 'folder for the pictures, the checkpoint and the .gmz file', 'gm-demo-output')
    .option('--train-size <n>', 'use only the first n of the 8,000 training digits (quick runs)', positiveInt)
    .option('--test-size <n>', 'use only the first n of the 2,000 test digits (quick runs)', positiveInt)
    .option('--map-points <n>', 'test digits on the latent map', positiveInt, 2000),
).action(
  act(async (o: { epochs: number; batch: number; seed: number; k: number; out: string; trainSize?: number; testSize?: number; mapPoints: number; backend?: Backend; json: boolean }, reporter) => {
    const { runDemo } = await import('./demo');
    const report = await runDemo(o, reporter);
    reporter.line(`\ndone in ${report.seconds.toFixed(1)} s; pictures, checkpoint and .gmz file in ${o.out}`);
    return report;
  }),
);

// ------------------------------------------------------------------------------------------------ train
const modelList = MODEL_SUMMARIES.map((m) => `  ${m.name.padEnd(14)} ${m.summary}`).join('\n');
common(
  program
    .command('train')
    .addArgument(new Argument('<model>', 'the model to train (see Models below)').choices(MODEL_SUMMARIES.map((m) => m.name)))
    .description('Train a model on a dataset and save a checkpoint folder (resumable with --resume).')
    .addHelpText('after', `\nModels:\n${modelList}\n\nExamples:\n  gm train vae --epochs 30 --out checkpoints/vae\n  gm train vae --resume checkpoints/vae --epochs 10\n  gm train vae --likelihood gaussian --beta 4\n  gm train vae --objective iwae --k 5\n  gm train denoising-ae --dropout 0.5 --hidden 100 --latent 30\n  gm train stacked-ae --optimizer sgd --lr 1.5 --epochs 20\n  gm train stacked-ae --greedy --optimizer sgd --layer-epochs 10 --layer-lr 1.5,0.05 --lr 0.1 --epochs 10\n  gm train contractive-ae --contractive 1e-3\n  gm train glow --condition label --epochs 5 --out checkpoints/glow\n  gm train vae --data cifar:/data/cifar-10-batches-bin --likelihood discretized-logistic --hidden 500 --latent 64`)
    .addOption(dataOption())
    .option('--epochs <n>', 'epochs to train (more epochs when resuming)', positiveInt, 10)
    .option('--batch <n>', 'batch size', positiveInt, 100)
    .addOption(new Option('--optimizer <name>', "what trains the weights (default adam: gm's fused Adam; momentum, nesterov: SGD with momentum 0.9; rmsprop; adadelta); --resume keeps the checkpoint's").choices(OPTIMIZER_CHOICES))
    .option('--lr <x>', 'learning rate (default: adam 1e-3, sgd/momentum/nesterov 1e-2, rmsprop 1e-3, adadelta 1)', positiveNumber)
    .option('--momentum <x>', '--optimizer momentum or nesterov: the momentum (default 0.9)', unitInterval)
    .option('--l2 <x>', 'L2 weight regularisation: adds x·Σ‖W‖² over the kernels to the objective (Keras kernel_regularizer l2)', positiveNumber)
    .addOption(new Option('--activation <name>', 'hidden-layer activation of the autoencoders (default selu, LeCun-normal init) and the vae (default relu)').choices(HIDDEN_ACTIVATIONS))
    .option('--greedy', 'stacked-ae, tied-ae: greedy layer-wise pretraining — one shallow autoencoder per layer (--layer-epochs, --layer-lr), stacked, then --epochs of fine-tuning at --lr')
    .option('--layer-epochs <n>', '--greedy: epochs of each shallow autoencoder (default --epochs)', positiveInt)
    .option('--layer-lr <list>', '--greedy: learning rate of each shallow autoencoder, comma-separated, one per layer or one for all (default --lr)', numberList)
    .option('--out <dir>', 'checkpoint folder to write (default: checkpoints/<model>, or the --resume folder)')
    .option('--resume <dir>', 'continue training the checkpoint in this folder')
    .option('--hidden <list>', 'hidden layer widths, comma-separated (e.g. 100 or 500,200; none: no hidden layer; made default 500, maf 1024, nsf 512)', widthList)
    .option('--latent <n>', 'latent / codings size (vae and iaf-vae default 40; autoencoders 30, sparse-ae 300)', positiveInt)
    .addOption(new Option('--likelihood <name>', 'vae observation model (default: bernoulli for 1 channel, discretized-logistic for 3; gaussian: intensities in [0, 1] around a sigmoid mean with a fixed σ)').choices(['bernoulli', 'discretized-logistic', 'discretized-logistic-mixture', 'gaussian']))
    .option('--observation-std <x>', 'vae, iaf-vae with --likelihood gaussian: the fixed σ of p(x|z) (default 0.1); the loss is then squared error / (2σ²) + β·KL + const, i.e. "squared error + λ·KL" with λ = 2βσ²', positiveNumber)
    .option('--mixture-components <n>', 'vae, iaf-vae with --likelihood discretized-logistic-mixture: logistic components per pixel (default 5)', positiveInt)
    .option('--beta <x>', 'vae: weight β of the KL term in the training objective (the β-VAE; default 1, the ELBO); the logged loss stays the −ELBO', positiveNumber)
    .addOption(new Option('--objective <name>', 'vae: the training objective (default elbo; iwae: the importance-weighted bound of Burda et al. with --k samples, logged as its negative; with --resume: fine-tune a vae checkpoint on this objective from then on)').choices(['elbo', 'iwae']))
    .option('--k <n>', 'vae --objective iwae: importance samples per image in the training bound (default 5; gm eval --k is the samples of the evaluation)', positiveInt)
    .addOption(new Option('--architecture <name>', "vae networks (default mlp; conv trains on every backend, on wasm with gm's conv kernels)").choices(['mlp', 'conv']))
    .option('--filters <list>', 'conv vae: filters of each stride-2 convolution (default 32,64); conv-ae: of each convolution before a pooling (16,32,64); realnvp, glow: feature maps of the coupling networks (default 32)', intList)
    .option('--noise-std <x>', 'denoising-ae: Gaussian input noise σ (default 0.2 when no --dropout)', positiveNumber)
    .option('--dropout <x>', 'denoising-ae: input dropout rate in (0, 1)', unitInterval)
    .option('--sparsity-target <x>', 'sparse-ae: target mean coding activation in (0, 1) (default 0.1)', unitInterval)
    .option('--sparsity-weight <x>', 'sparse-ae: weight of the sparsity penalty (default 0.05)', positiveNumber)
    .option('--activity-l1 <x>', 'sparse-ae: an L1 penalty x·Σ|coding| per image instead of the KL penalty (Géron: 1e-3)', positiveNumber)
    .option('--contractive <x>', 'contractive-ae: weight λ of the penalty λ‖∂codings/∂x‖²_F (default 1e-3)', positiveNumber)
    .option('--flow-steps <n>', 'iaf-vae: IAF steps on the posterior (default 2); maf: MAF steps (5); nsf: spline couplings (4)', positiveInt)
    .addOption(new Option('--posterior-flow <name>', 'iaf-vae: the flow of the posterior, --flow-steps steps of it (default iaf; planar, radial: Rezende & Mohamed\'s steps, parameters amortized from the encoder)').choices(['iaf', 'planar', 'radial']))
    .addOption(new Option('--transform <name>', 'maf: the element-wise transform of each step (spline: the autoregressive neural spline flow)').choices(['affine', 'spline']))
    .option('--scales <n>', 'realnvp, glow: scales of the multi-scale flow (default 2)', positiveInt)
    .option('--steps-per-scale <n>', 'glow: flow steps (ActNorm, 1×1 conv, coupling) per scale (default 4)', positiveInt)
    .addOption(new Option('--condition <what>', 'glow: a class-conditional model of the data\'s labels (then gm sample --label, gm eval per label)').choices(['label']))
    .option('--train-limit <n>', 'use only the first n training images', positiveInt)
    .option('--test-limit <n>', 'use only the first n test images (validation)', positiveInt)
    .option('--labels <list>', 'train and validate only on images of these labels, comma-separated (e.g. 0,1,2,3,4: a model of normal digits for gm anomaly)', labelList)
    .option('--no-validation', 'skip the validation loss after each epoch')
    .option(
      '--workers <n|auto>',
      'threads that train data-parallel (this one + n − 1 worker_threads; Adam, no L2, no untrained state). Default: both cores for runs of 200+ steps when timing a few steps on one and on two threads says it pays — measured once per model, batch and machine, then kept (~/.cache/gm/cli/workers.json); auto: measure again; 1: this thread only',
      workersOption,
    ),
).action(act(async (o: Parameters<typeof train>[1] & { json: boolean }, reporter, model) => (await commands()).train(model as string, o, reporter)));

// ------------------------------------------------------------------------------------------------ eval
common(
  program
    .command('eval')
    .description('Evaluate a checkpoint on the test split: −ELBO, importance-sampled log-likelihood and bits/dim (VAE), log-likelihood and bits/dim (MADE, flows), reconstruction loss and accuracy (autoencoders).')
    .addOption(modelOption())
    .addOption(dataOption())
    .option('--k <n>', 'importance samples per image for log p(x)', positiveInt, 100)
    .option('--test-limit <n>', 'evaluate only the first n test images', positiveInt),
).action(act(async (o: Parameters<typeof evaluate>[0] & { json: boolean }, reporter) => (await commands()).evaluate(o, reporter)));

// ------------------------------------------------------------------------------------------------ pictures
common(
  program
    .command('sample')
    .description('Draw new images from a generative model (VAE, MADE or flow) and write them as a PNG grid.')
    .addOption(modelOption())
    .option('--n <n>', 'number of samples', positiveInt, 64)
    .option('--label <n>', 'class-conditional models: the class of every sample (default: one row per class)', nonNegativeInt)
    .option('--temperature <x>', 'flows: standard deviation of the base draws (default 1; 0.7 gives smoother, more typical samples)', positiveNumber)
    .option('--out <file>', 'PNG file to write', 'samples.png'),
).action(act(async (o: Parameters<typeof sample>[0] & { json: boolean }, reporter) => (await commands()).sample({ ...o, data: parseDataSpec('mnist-bundled') }, reporter)));

common(
  program
    .command('reconstruct')
    .description('Reconstruct test images: a PNG grid with each row of originals followed by its reconstructions.')
    .addOption(modelOption())
    .addOption(dataOption())
    .option('--n <n>', 'number of test images', positiveInt, 50)
    .option('--noise <sigma>', 'add Gaussian noise of this standard deviation to the inputs (intensities in [0, 1], clipped); rows: noisy inputs, reconstructions, originals', positiveNumber)
    .option('--out <file>', 'PNG file to write', 'reconstructions.png'),
).action(act(async (o: Parameters<typeof reconstruct>[0] & { json: boolean }, reporter) => (await commands()).reconstruct(o, reporter)));

common(
  program
    .command('interpolate')
    .description('Walk the straight line between the codings of two test images of different labels and decode each step (PNG grid, one row per pair).')
    .addOption(modelOption())
    .addOption(dataOption())
    .option('--rows <n>', 'pairs of test images', positiveInt, 8)
    .option('--steps <n>', 'images per row, both ends included (with --grid: per side)', positiveInt, 10)
    .option('--grid', 'one steps × steps grid bilinear between the codings of four test images at its corners (instead of --rows pairs)')
    .option('--corners <list>', '--grid: the four test images, top-left,top-right,bottom-left,bottom-right (default: the first of four different labels)', fourIndices)
    .option('--out <file>', 'PNG file to write', 'interpolations.png'),
).action(act(async (o: Parameters<typeof interpolate>[0] & { json: boolean }, reporter) => (await commands()).interpolate(o, reporter)));

common(
  program
    .command('latent-map')
    .description('Scatter the codings of test images coloured by label (PNG): the 2-D latent directly, higher dimensions through UMAP (umap-js) or t-SNE (DruidJS); --thumbnails draws the images at their points.')
    .addOption(modelOption())
    .addOption(dataOption())
    .option('--n <n>', 'number of test images', positiveInt, 2000)
    .addOption(new Option('--method <name>', 'how codings become 2-D (default: direct for a 2-D latent, else umap); tsne is exact t-SNE, about 30 s for 2,000 points').choices(['direct', 'umap', 'tsne']))
    .option('--perplexity <x>', 'tsne: effective number of neighbours (default 30)', positiveNumber)
    .option('--thumbnails', 'draw the test images themselves at their points, over the dots (those that do not overlap)')
    .option('--out <file>', 'PNG file to write', 'latent-map.png'),
).action(act(async (o: Parameters<typeof latentMap>[0] & { json: boolean }, reporter) => (await commands()).latentMap(o, reporter)));

common(
  program
    .command('codings')
    .description("Draw test images beside their codings (one grey cell per coding unit) and histogram the coding activations — every value, and each unit's mean (the sparse autoencoder's picture: most activations near 0, unit means near the target).")
    .addOption(modelOption())
    .addOption(dataOption())
    .option('--n <n>', 'test images to draw', positiveInt, 20)
    .option('--stats <n>', 'test images the histograms count (default: all)', positiveInt)
    .option('--histogram <file>', 'also write the two histograms as a PNG')
    .option('--out <file>', 'PNG file to write', 'codings.png'),
).action(act(async (o: Parameters<typeof codings>[0] & { json: boolean }, reporter) => (await commands()).codings(o, reporter)));

common(
  program
    .command('anomaly')
    .description('Anomaly detection by reconstruction error: score test images by their reconstruction loss under an autoencoder or VAE; with --normal, the ROC AUC of the scores for telling the other classes from the normal ones.')
    .addOption(modelOption())
    .addOption(dataOption())
    .option('--n <n>', 'score only the first n test images (default: all)', positiveInt)
    .option('--normal <labels>', 'the classes the model was trained on, comma-separated (e.g. 0,1,2,3,4); the others are the anomalies', labelList)
    .addOption(new Option('--score <name>', "per-image reconstruction loss (default: the model's own, bce for [0, 1] inputs, mse for an MSE autoencoder, a Gaussian VAE or 8-bit pixels)").choices(['bce', 'mse']))
    .option('--top <n>', 'most anomalous images to list and draw', positiveInt, 10)
    .option('--out <file>', 'PNG file of the --top most anomalous images above their reconstructions')
    .option('--scores <file>', 'CSV file of every score (index,label,score)'),
).action(act(async (o: Parameters<typeof anomaly>[0] & { json: boolean }, reporter) => (await commands()).anomaly(o, reporter)));

// ------------------------------------------------------------------------------------------------ compress
common(
  program
    .command('compress')
    .argument('<in>', 'images: mnist-bundled[:test|train|all], mnist:<dir>[:test|train], cifar:<dir>[:test|train], an IDX image file (.gz too) or a folder of PNGs')
    .argument('<out.gmz>', '.gmz file to write')
    .description('Losslessly compress images under a trained model: bits-back coding with a VAE (BB-ANS, or importance-sampled BB-CIS with --method bbis), autoregressive coding with a MADE. A Bernoulli model codes binary pixels: other input is binarized (pixel > 127) first, and that is what decompresses.')
    .addOption(modelOption())
    .option('--limit <n>', 'compress only the first n images', positiveInt)
    .option('--chunk <n>', 'images per independently decodable chunk', positiveInt, 500)
    .addOption(new Option('--method <name>', 'VAE coding: bbans codes at the −ELBO; bbis (coupled importance-sampled bits-back) at the lower --particles-sample bound, slower').choices(['bbans', 'bbis']).default('bbans'))
    .option('--particles <k>', 'bbis: importance-sampling particles per image, 2..1024 (default 20; recorded in the file)', positiveInt),
).action(act(async (o: Parameters<typeof compress>[2] & { json: boolean }, reporter, input, output) => (await commands()).compress(input as string, output as string, o, reporter)));

common(
  program
    .command('decompress')
    .argument('<in.gmz>', '.gmz file written by gm compress')
    .argument('<out>', 'an IDX file (name ending in -ubyte, .idx or .gz) or a folder to fill with PNGs')
    .description('Decompress a .gmz file with the checkpoint that compressed it (binary pixels are written as 0/255).')
    .addOption(modelOption()),
).action(act(async (o: Parameters<typeof decompress>[2] & { json: boolean }, reporter, input, output) => (await commands()).decompress(input as string, output as string, o, reporter)));

// ------------------------------------------------------------------------------------------------ bench
program
  .command('bench')
  .description("Run the repository's benchmark harness (apps/bench: VAE step per backend vs PyTorch, parsing, coding); extra arguments go to it, e.g. gm bench -- --quick")
  .argument('[args...]', 'arguments for the harness (--quick, --suite <name>, --out <file>)')
  .allowUnknownOption()
  .action(async (args: string[]) => {
    process.exitCode = (await commands()).bench(args);
  });

program.parseAsync(process.argv).catch((error: unknown) => {
  console.error(`gm: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
