// Starts `herald lsp` for the plan files of the workspace. Everything the
// editor shows (diagnostics, hover, completion, quick fixes) comes from the
// server; the extension only wires it in and adds the schemas and grammars.
import * as vscode from "vscode";
import {
  LanguageClient,
  LanguageClientOptions,
  ServerOptions,
  TransportKind,
} from "vscode-languageclient/node";

let client: LanguageClient | undefined;

function serverOptions(): ServerOptions {
  const command = vscode.workspace.getConfiguration("herald").get<string>("server.path") || "herald";
  return { command, args: ["lsp"], transport: TransportKind.stdio };
}

const clientOptions: LanguageClientOptions = {
  // Plan files, template files and herald.toml; the server ignores files
  // outside a directory holding herald.toml.
  documentSelector: [
    { scheme: "file", language: "yaml" },
    { scheme: "file", pattern: "**/*.{mjml,html,txt}" },
    { scheme: "file", pattern: "**/herald.toml" },
  ],
  synchronize: {
    fileEvents: vscode.workspace.createFileSystemWatcher("**/{herald.toml,*.yaml,*.yml,*.mjml}"),
  },
  outputChannelName: "Herald",
};

async function start(context: vscode.ExtensionContext): Promise<void> {
  client = new LanguageClient("herald", "Herald", serverOptions(), clientOptions);
  try {
    await client.start();
  } catch (err) {
    const path = vscode.workspace.getConfiguration("herald").get<string>("server.path") || "herald";
    void vscode.window.showErrorMessage(
      `Herald: could not start \`${path} lsp\` (${err}). Install Herald (\`cargo install --path runtime\` in its repository) or set "herald.server.path".`,
    );
    client = undefined;
  }
  context.subscriptions.push({ dispose: () => void client?.stop() });
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  context.subscriptions.push(
    vscode.commands.registerCommand("herald.restartServer", async () => {
      await client?.stop();
      await start(context);
    }),
  );
  await start(context);
}

export async function deactivate(): Promise<void> {
  await client?.stop();
}
