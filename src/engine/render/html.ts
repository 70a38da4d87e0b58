/** Text placed in HTML (the panels' and report's pages, hover markdown): markup characters as entities. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
