/** CodeLens above training and export calls: explain or sanity-check the latest exported model. */
import * as vscode from 'vscode';
import { findTrainingCalls } from './training-calls';

export const CODELENS_LANGUAGES = ['python', 'typescript', 'javascript', 'typescriptreact', 'javascriptreact'];

export class TrainingCodeLensProvider implements vscode.CodeLensProvider {
  provideCodeLenses(document: vscode.TextDocument): vscode.CodeLens[] {
    const lenses: vscode.CodeLens[] = [];
    for (const call of findTrainingCalls(document.getText(), document.languageId)) {
      const range = new vscode.Range(call.line, call.character, call.line, call.character + call.call.length);
      lenses.push(
        new vscode.CodeLens(range, {
          title: vscode.l10n.t('Explain latest model'),
          command: 'attributionLens.explainLatestModel',
          tooltip: vscode.l10n.t('Explain a sample with the most recently modified model file of the workspace'),
        }),
      );
      lenses.push(
        new vscode.CodeLens(range, {
          title: vscode.l10n.t('Sanity-check latest model'),
          command: 'attributionLens.sanityCheckLatestModel',
        }),
      );
    }
    return lenses;
  }
}
