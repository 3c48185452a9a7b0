/**
 * Entry point of the config language server (bundled as dist/language.js). The transport comes from
 * the command line, as vscode-languageclient passes it: --node-ipc, --stdio, --socket=N or --pipe=NAME.
 */
import { createConnection, ProposedFeatures } from 'vscode-languageserver/node';
import { startLanguageServer } from './server.js';

const connection = createConnection(ProposedFeatures.all);
// A bug must not take the server down with it: log and carry on.
process.on('uncaughtException', (e) => connection.console.error(`inheritune language server: uncaught: ${e.stack ?? e.message}`));
process.on('unhandledRejection', (e) => connection.console.error(`inheritune language server: unhandled rejection: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`));
startLanguageServer(connection);
connection.listen();
