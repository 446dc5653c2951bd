// Keeps a list of consultations current: any change to one of mine (a new request, an
// accept, an end) makes htmx fetch the list's groups as the server draws them
// (GET /consultations?fragment=groups, the block `consultation_groups` of the page's own
// template) and swap them in. The section's hx-* attributes say where and how; requests
// queue, so the last change is always fetched after the one before it.
import htmx from "htmx";
import { ClinicSocket } from "realtime";

const root = document.querySelector("[data-consultation-list]");
if (root) start(root);

function start(root) {
  const live = ClinicSocket.shared();
  live.showStateIn(root.querySelector("[data-connection]"));
  live.subscribe("user:" + root.dataset.user, {
    onEvent: (event) => {
      if (event.type.startsWith("consultation.")) htmx.trigger(root, "consultations-changed");
    },
  });
}
