/**
 * The `gm` command. Each subcommand lives in its own module; this file wires them to commander, turns errors into a
 * one-line message and a non-zero exit code, and prints `--json` reports on stdout.
 */
import { Command, Option } from 'commander';
import { runDemo } from './demo';
import { BACKEND_CHOICES, nonNegativeInt, positiveInt } from './options';

const program = new Command();
program
  .name('gm')
  .description('Deep generative models on TensorFlow.js: train, evaluate, sample and compress.')
  .showHelpAfterError('(run with --help for usage)');

program
  .command('demo')
  .description('Train a VAE on the bundled MNIST digits on the fastest local backend and report its −ELBO.')
  .option('--epochs <n>', 'training epochs', positiveInt, 3)
  .option('--batch <n>', 'batch size', positiveInt, 128)
  .option('--seed <n>', 'random seed', nonNegativeInt, 0)
  .addOption(new Option('--backend <name>', 'force a backend (default: fastest available, or GM_BACKEND)').choices(BACKEND_CHOICES))
  .option('--json', 'print a JSON report on stdout instead of progress lines', false)
  .action(async (opts: { epochs: number; batch: number; seed: number; backend?: (typeof BACKEND_CHOICES)[number]; json: boolean }) => {
    const log = opts.json ? () => {} : (line: string) => console.log(line);
    const report = await runDemo(opts, log);
    if (opts.json) console.log(JSON.stringify(report, null, 2));
    else console.log(`done in ${report.seconds.toFixed(1)} s; tensors leaked after the first epoch: ${report.leakedTensors}`);
  });

program.parseAsync(process.argv).catch((error: unknown) => {
  console.error(`gm: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
