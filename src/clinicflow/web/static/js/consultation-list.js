// Keeps a list of consultations current: any change to one of mine (a new request, an
// accept, an end) re-fetches the list through htmx.
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
