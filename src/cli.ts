// The `rill` command. Each subcommand lives in src/cli/<name>-command.ts and registers itself
// here; the commands that talk to a cluster take --bootstrap.
import { Command } from 'commander';

const program = new Command()
  .name('rill')
  .description('Rill: a Kafka-style streaming data platform with replicated logs over HTTP/2.')
  .showHelpAfterError();

// Subcommands are registered below, one line each.
program.addCommand((await import('./cli/broker-command.ts')).brokerCommand());
program.addCommand((await import('./cli/cluster-command.ts')).clusterCommand());
program.addCommand((await import('./cli/topic-command.ts')).topicCommand());
program.addCommand((await import('./cli/produce-command.ts')).produceCommand());
program.addCommand((await import('./cli/consume-command.ts')).consumeCommand());
program.addCommand((await import('./cli/bench-command.ts')).benchCommand());

await program.parseAsync(process.argv);
