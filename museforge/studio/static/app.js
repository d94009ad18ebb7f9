// museforge studio: one page, one tab per hash route (#create, #write, #play, #breed, #design, #gallery[/ID],
// #train, #models). Each tab is a module with init() (once) and show(arg, entering) (each
// route change; ``entering`` is false when only the argument changed, e.g. #gallery/ID).

import { guarded, initToken, showError } from "./api.js";
import * as breed from "./breed.js";
import * as create from "./create.js";
import * as design from "./design.js";
import * as gallery from "./gallery.js";
import * as models from "./models.js";
import * as play from "./play.js";
import * as train from "./train.js";
import * as write from "./write.js";

const VIEWS = { create, write, play, breed, design, gallery, train, models };
const ready = {};
let shown = null;

function route() {
  const [name, arg] = (location.hash.replace(/^#/, "") || "create").split("/");
  const view = VIEWS[name] ? name : "create";
  for (const key of Object.keys(VIEWS)) {
    document.getElementById(`view-${key}`).hidden = key !== view;
    const tab = document.querySelector(`[data-tab="${key}"]`);
    if (key === view) tab.setAttribute("aria-current", "page");
    else tab.removeAttribute("aria-current");
    tab.classList.toggle("active", key === view);
  }
  const entering = shown !== view;
  shown = view;
  guarded(async () => {
    await ready[view];
    await VIEWS[view].show(arg ? decodeURIComponent(arg) : undefined, entering);
  });
}

function main() {
  if (!initToken()) {
    showError("no studio token: open the address that `museforge studio` printed; you can look, but not change anything");
  }
  for (const [name, view] of Object.entries(VIEWS)) {
    ready[name] = Promise.resolve(view.init()).catch(showError);
  }
  window.addEventListener("hashchange", route);
  route();
  Promise.all(Object.values(ready)).then(() => document.body.classList.add("ready"));
}

main();
