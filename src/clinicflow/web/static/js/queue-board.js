// The public display board (templates/queue/board.html): nobody signs in on a waiting-room
// screen, and sockets need a sign-in, so it polls GET /api/queue/board every 3 seconds.
// Each doctor's row keeps the newest (date, revision) it has shown. Numbers and doctors'
// names only: the board's API has no patients in it.
const root = document.querySelector("[data-board]");
if (root) start(root);

function start(root) {
  const config = JSON.parse(root.querySelector("script[type='application/json']").textContent);
  const text = config.text;
  const rowsBox = root.querySelector("[data-board-rows]");
  const empty = root.querySelector("[data-board-empty]");
  const stateLine = root.querySelector("[data-board-state]");
  const POLL_MS = 3000;
  const shown = new Map(); // doctor_id -> "date|revision" key parts

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, (match, key) => (key in values ? String(values[key]) : match));
  }

  function newer(row) {
    const last = shown.get(row.doctor_id);
    if (!last) return true;
    if (row.date !== last.date) return row.date > last.date;
    return row.revision >= last.revision;
  }

  function card(row) {
    let article = rowsBox.querySelector(`[data-doctor="${CSS.escape(row.doctor_id)}"]`);
    if (!article) {
      article = document.createElement("article");
      article.className = "board-row";
      article.dataset.doctor = row.doctor_id;
      article.setAttribute("data-testid", "board-row");
      const title = document.createElement("h2");
      const token = document.createElement("span");
      token.className = "board-token";
      token.setAttribute("data-serving", "");
      token.setAttribute("data-testid", "board-serving");
      const line = document.createElement("p");
      line.className = "muted";
      line.setAttribute("data-line", "");
      article.append(title, token, line);
      rowsBox.append(article);
    }
    return article;
  }

  function draw(row) {
    if (!newer(row)) return;
    shown.set(row.doctor_id, { date: row.date, revision: row.revision });
    const article = card(row);
    article.querySelector("h2").textContent = row.doctor_name;
    article.querySelector("[data-serving]").textContent = row.serving_token === null ? "–" : row.serving_token;
    let line = fill(text.waiting, { count: row.waiting_count });
    if (row.paused) line += " · " + text.paused;
    else if (row.doctor_away) line += " · " + text.away;
    article.querySelector("[data-line]").textContent = line;
  }

  async function poll() {
    try {
      const response = await fetch("/api/queue/board", { credentials: "omit", cache: "no-store" });
      if (!response.ok) throw new Error(String(response.status));
      const rows = await response.json();
      rows.forEach(draw);
      empty.hidden = rowsBox.children.length > 0;
      stateLine.textContent = "";
    } catch (error) {
      stateLine.textContent = text.stale;
    } finally {
      setTimeout(poll, POLL_MS);
    }
  }

  config.rows.forEach(draw);
  setTimeout(poll, POLL_MS);
}
