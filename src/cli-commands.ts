/** Capability CLI commands, registered onto the main program. */
import type { Command } from 'commander';
import { openCliContext } from './cli-context.js';
import { registerIisCommands } from './sync/iis/cli.js';
import { registerIisSenderCommands } from './sync/iis-inbound/cli.js';
import { registerAuthCommands } from './auth/commands.js';
import { registerCredentialCommands } from './credentials/commands.js';
import { registerSyncCommands } from './sync/ehr/commands.js';
import { registerForecastCommands } from './forecast/commands.js';
import { registerSchedulingCommands } from './scheduling/commands.js';

export function registerCapabilityCommands(program: Command): void {
  registerAuthCommands(program);
  registerIisSenderCommands(registerIisCommands(program, openCliContext), openCliContext);
  registerCredentialCommands(program);
  registerSyncCommands(program);
  registerForecastCommands(program);
  registerSchedulingCommands(program);
}
