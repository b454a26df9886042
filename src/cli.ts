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

await program.parseAsync(process.argv);
