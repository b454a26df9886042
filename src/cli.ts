// The `rill` command. Each subcommand lives in src/cli/<name>-command.ts and registers itself
// here; the commands that talk to a cluster take --bootstrap.
import { Command } from 'commander';
import { benchCommand } from './cli/bench-command.ts';
import { consumeCommand } from './cli/consume-command.ts';
import { produceCommand } from './cli/produce-command.ts';
import { topicCommand } from './cli/topic-command.ts';

const program = new Command()
  .name('rill')
  .description('Rill: a Kafka-style streaming data platform with replicated logs over HTTP/2.')
  .showHelpAfterError();

// Subcommands are registered below, one line each.
program.addCommand(topicCommand());
program.addCommand(produceCommand());
program.addCommand(consumeCommand());
program.addCommand(benchCommand());

await program.parseAsync(process.argv);
