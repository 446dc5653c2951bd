// The public display board (templates/queue/board.html): nobody signs in on a waiting-room
// screen, and sockets need a sign-in, so every 3 seconds it fetches its rows drawn alone
// by the server (GET /board/fragment, the page's block `board_rows`) and swaps them in.
// One fetch at a time, the next only after the last has landed, so an older answer never
// replaces a newer one. Numbers and doctors' names only: the board has no patients in it.
const root = document.querySelector("[data-board]");
if (root) start(root);

function start(root) {
  const stateLine = root.querySelector("[data-board-state]");
  const POLL_MS = 3000;

  async function poll() {
    try {
      const response = await fetch("/board/fragment", { credentials: "omit", cache: "no-store" });
      if (!response.ok) throw new Error(String(response.status));
      const template = document.createElement("template");
      template.innerHTML = await response.text();
      const fresh = template.content.querySelector("[data-board-rows]");
      if (!fresh) throw new Error("no rows in the answer");
      root.querySelector("[data-board-rows]").replaceWith(fresh);
      stateLine.textContent = "";
    } catch (error) {
      stateLine.textContent = stateLine.dataset.stale;
    } finally {
      setTimeout(poll, POLL_MS);
    }
  }

  setTimeout(poll, POLL_MS);
}
