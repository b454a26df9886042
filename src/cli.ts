// The `rill` command. Each subcommand lives in src/cli/<name>-command.ts and registers itself
// here; the commands that talk to a cluster take --bootstrap. `rill broker` loads the whole node
// (src/main.ts, ~0.3 s of imports), so it is loaded only when asked for: the client commands
// start fast enough to fail on a typo in well under a second.
import { Command } from 'commander';

const program = new Command()
  .name('rill')
  .description(
    'Rill: a Kafka-style streaming data platform with replicated logs over HTTP/2.\n' +
      'Commands that talk to a cluster take --bootstrap URL[,URL…] (default: $RILL_BOOTSTRAP, ' +
      'else ./data/bootstrap written by `rill cluster up`, else http://127.0.0.1:9091).',
  )
  .showHelpAfterError();

const brokerDescription = 'run one node (broker, and metadata voter or observer) in the foreground';
const wantsBroker = process.argv.slice(2, 4).includes('broker');

// Subcommands are registered below, one line each.
program.addCommand(
  wantsBroker
    ? (await import('./cli/broker-command.ts')).brokerCommand()
    : new Command('broker').description(brokerDescription),
);
program.addCommand((await import('./cli/cluster-command.ts')).clusterCommand());
program.addCommand((await import('./cli/topic-command.ts')).topicCommand());
program.addCommand((await import('./cli/produce-command.ts')).produceCommand());
program.addCommand((await import('./cli/consume-command.ts')).consumeCommand());
program.addCommand((await import('./cli/group-command.ts')).groupCommand());
program.addCommand((await import('./cli/bench-command.ts')).benchCommand());

await program.parseAsync(process.argv);
