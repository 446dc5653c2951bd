// The outbox's database and its sending, shared by the page (js/outbox.js) and the service
// worker (js/sw.js), so that both record each answer the same way: one implementation.
//
// A classic script, not a module: the worker is a classic one (Workbox loads through
// `importScripts`) and takes this file with `importScripts`; outbox.js imports it for its
// effect. Either way it defines `self.clinicflowOutbox`.
//
// - `send({ csrf, recorded })` sends every pending action, in the order it was done, in
//   pushes of at most 200, under a Web Lock so the page, another tab and the worker never
//   send the same batch at once (the server would only answer `duplicate`). Each answer
//   replaces its action's state; `recorded()` is called after each batch is written.
// - The push needs the page's CSRF token (double submit: the `cf_csrf` cookie, echoed in
//   `X-CSRF-Token`). The page passes the one in its DOM; the worker, which holds none, uses
//   the one kept with the newest pending action (outbox.js keeps it with each action, in
//   this same origin's IndexedDB, which sign-out deletes with the rest).
(() => {
  const DB_NAME = "clinicflow-outbox";
  const ACTIONS = "actions";
  const VIEWS = "views";
  // The server takes at most this many mutations in one push (sync/schemas.MAX_MUTATIONS).
  const BATCH = 200;

  let opened = null;
  function database() {
    opened ??= new Promise((resolve, reject) => {
      const request = indexedDB.open(DB_NAME, 1);
      request.onupgradeneeded = () => {
        request.result.createObjectStore(ACTIONS, { keyPath: "seq", autoIncrement: true });
        request.result.createObjectStore(VIEWS, { keyPath: "path" });
      };
      request.onsuccess = () => {
        // Sign-out deletes the database: let it, rather than block it from here.
        request.result.onversionchange = () => {
          request.result.close();
          opened = null;
        };
        resolve(request.result);
      };
      request.onerror = () => reject(request.error);
    });
    return opened;
  }

  // Whether this browser holds an outbox, without making one (a signed-out browser keeps none).
  async function exists() {
    if (!indexedDB.databases) return true;
    return (await indexedDB.databases()).some((found) => found.name === DB_NAME);
  }

  async function inStore(name, mode, work) {
    const db = await database();
    const transaction = db.transaction(name, mode);
    const request = work(transaction.objectStore(name));
    await new Promise((resolve, reject) => {
      transaction.oncomplete = resolve;
      transaction.onerror = transaction.onabort = () => reject(transaction.error);
    });
    return request?.result;
  }

  // Every kept action, in the order it was done (the key grows with each).
  const actions = () => inStore(ACTIONS, "readonly", (store) => store.getAll());

  // False when the network or the server failed (the actions stay pending, to be tried again).
  async function send({ csrf = "", recorded = () => {} } = {}) {
    const go = async () => {
      const pending = (await actions()).filter((action) => action.state === "pending");
      const token = csrf || pending.findLast((action) => action.csrf)?.csrf || "";
      for (let start = 0; start < pending.length; start += BATCH) {
        const batch = pending.slice(start, start + BATCH);
        const mutations = batch.map(({ client_id, type, data, base_version }) => (
          base_version === undefined ? { client_id, type, data } : { client_id, type, data, base_version }
        ));
        let response;
        try {
          response = await fetch("/api/sync/push", {
            method: "POST",
            credentials: "same-origin",
            headers: { "Content-Type": "application/json", "X-CSRF-Token": token },
            body: JSON.stringify({ mutations }),
          });
        } catch {
          return false;
        }
        // Signed out, or refused as a whole: trying again would not help.
        if (!response.ok) return response.status < 500;
        const answers = new Map((await response.json()).results.map((answer) => [answer.client_id, answer]));
        await inStore(ACTIONS, "readwrite", (store) => {
          for (const action of batch) {
            const answer = answers.get(action.client_id);
            if (answer) store.put({ ...action, state: answer.status, result: answer.result, error: answer.error });
          }
        });
        await recorded();
      }
      return true;
    };
    return navigator.locks ? navigator.locks.request(DB_NAME, go) : go();
  }

  self.clinicflowOutbox = { DB_NAME, ACTIONS, VIEWS, exists, inStore, actions, send };
})();
