"""The report's inline stylesheet: system fonts only, so the page loads nothing from the network."""

CSS = """
:root { --ink: #1d2329; --muted: #5c6670; --line: #d9dee3; --band: #f4f6f8; --accent: #2b6cb0;
        --pass: #1e7b34; --fail: #b42318; --est: #8a5a00; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: #fff; line-height: 1.45;
       font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 28px 48px; }
h1 { font-size: 1.7rem; margin: 0 0 4px; }
h2 { font-size: 1.25rem; margin: 36px 0 10px; padding-bottom: 4px; border-bottom: 2px solid var(--line); }
h3 { font-size: 1.05rem; margin: 22px 0 6px; }
.subtitle { color: var(--muted); margin: 0 0 16px; }
.muted, figcaption { color: var(--muted); font-size: 0.9rem; }
figure { margin: 12px 0 24px; }
figcaption { margin-top: 6px; max-width: 900px; }
img { max-width: 100%; height: auto; border: 1px solid var(--line); border-radius: 4px; }
code { font: 0.85rem ui-monospace, "DejaVu Sans Mono", monospace; background: var(--band);
       padding: 1px 4px; border-radius: 3px; word-break: break-all; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 4px 18px; margin: 0;
           padding: 12px 16px; background: var(--band); border-radius: 6px; font-size: 0.92rem; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; font-size: 0.88rem; margin: 6px 0; }
th, td { padding: 5px 8px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
th { background: var(--band); font-weight: 600; white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tbody tr:hover { background: #fafbfc; }
.steps { display: inline-block; min-width: 9rem; font-size: 0.8rem; color: var(--muted); }
td small { display: block; }  /* notes (a size's source, what a check counts) go under the value */
small { color: var(--muted); font-size: 0.78rem; }
.pass { color: var(--pass); font-weight: 600; }
.fail { color: var(--fail); font-weight: 600; }
.estimate { display: inline-block; padding: 0 6px; border: 1px solid var(--est); border-radius: 9px;
            color: var(--est); font-size: 0.75rem; font-weight: 600; text-transform: uppercase;
            letter-spacing: 0.03em; vertical-align: 1px; }
.artifact { padding: 2px 16px 10px; margin: 12px 0; border-left: 3px solid var(--line); }
.artifact h3 { margin-top: 10px; }
.estimate-line { font-size: 0.9rem; }
footer { margin-top: 40px; color: var(--muted); font-size: 0.82rem; border-top: 1px solid var(--line);
         padding-top: 10px; }
"""
