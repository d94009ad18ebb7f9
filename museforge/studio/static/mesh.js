// A mesh artwork (a GLB with its STL, OBJ, preview and turntable): an interactive WebGL
// view to turn (drag), zoom (wheel, pinch) and pan, lit on a neutral background and fitted
// to the model, with links to download it. three.js is vendored (vendor/three, see its
// README) and loaded only when a mesh is shown. Without WebGL 2 a line says so instead.

import { el } from "./ui.js";

const NO_WEBGL = "This browser cannot show 3D here (no WebGL 2); download the GLB, STL or OBJ below.";
let shown = null; // {id, box, dispose}: the view in the detail panel, kept while it shows the same mesh

/** The view of gallery detail ``item`` (modality "mesh", with ``companions``). Redrawing
 * the same artwork (a star, a tag) gives back the same view, turned as the user left it. */
export function meshView(item) {
  if (shown?.id === item.id) return shown.box;
  releaseMeshView();
  const file = `/api/gallery/${item.id}/file`;
  const has = new Set(item.companions || []);
  const stem = item.path.split("/").pop().replace(/\.glb$/i, "");
  const loading = el("p", { class: "mesh-message", text: "loading the 3D view…" });
  const stage = el("div", { class: "mesh-stage", dataset: { testid: "mesh-stage" } }, loading);
  const size = el("p", { class: "hint mesh-size", dataset: { testid: "mesh-size" } });
  const links = el("div", { class: "row downloads" });
  const download = (role, ext, text) =>
    el("a", { href: role ? `${file}?companion=${role}` : file, download: `${stem}${ext}`, text, dataset: { testid: `mesh-${ext.slice(1)}` } });
  if (has.has("stl")) links.append(download("stl", ".stl", "STL (printing)"));
  if (has.has("obj")) links.append(download("obj", ".obj", "OBJ"));
  links.append(download(null, ".glb", "GLB"));
  const box = el("div", { class: "mesh", dataset: { testid: "mesh-view", id: item.id } }, stage, size, links);
  const view = { id: item.id, box, dispose: () => {} };
  shown = view;
  start(view, stage, size, file).catch((err) => {
    if (shown !== view) return;
    view.dispose();
    stage.replaceChildren(message(`The 3D view failed (${err.message || err}); download the files below.`, "mesh-error"));
  });
  return box;
}

/** Free the WebGL context of the view shown last (another artwork is being shown). */
export function releaseMeshView() {
  shown?.dispose();
  shown = null;
}

function message(text, testid = "mesh-no-webgl") {
  return el("p", { class: "mesh-message", text, dataset: { testid }, attrs: { role: "status" } });
}

function hasWebGL2() {
  try {
    return Boolean(document.createElement("canvas").getContext("webgl2"));
  } catch {
    return false;
  }
}

async function start(view, stage, size, url) {
  if (!hasWebGL2()) {
    stage.replaceChildren(message(NO_WEBGL));
    return;
  }
  const [THREE, { OrbitControls }, { GLTFLoader }, { RoomEnvironment }] = await Promise.all([
    import("./vendor/three/build/three.module.min.js"),
    import("./vendor/three/examples/jsm/controls/OrbitControls.js"),
    import("./vendor/three/examples/jsm/loaders/GLTFLoader.js"),
    import("./vendor/three/examples/jsm/environments/RoomEnvironment.js"),
  ]);
  if (shown !== view) return; // another artwork was opened meanwhile
  let renderer;
  try {
    renderer = new THREE.WebGLRenderer({ antialias: true });
  } catch {
    stage.replaceChildren(message(NO_WEBGL)); // a context the browser would not give
    return;
  }
  view.dispose = () => {
    renderer.dispose();
    renderer.forceContextLoss();
  };
  renderer.setPixelRatio(Math.min(window.devicePixelRatio || 1, 2));
  renderer.toneMapping = THREE.NeutralToneMapping; // light surfaces keep their shading
  renderer.domElement.dataset.testid = "mesh-canvas";
  renderer.domElement.setAttribute("aria-label", "3D view: drag to turn, wheel or pinch to zoom, right-drag to pan");
  const scene = new THREE.Scene();
  scene.background = new THREE.Color(getComputedStyle(stage).getPropertyValue("--mesh-bg").trim() || "#e6e7ea");
  const pmrem = new THREE.PMREMGenerator(renderer);
  scene.environment = pmrem.fromScene(new RoomEnvironment(), 0.04).texture; // soft, even light
  pmrem.dispose();
  const camera = new THREE.PerspectiveCamera(35, 4 / 3, 0.1, 1000);
  const headlight = new THREE.DirectionalLight(0xffffff, 1.2); // from over the viewer's shoulder
  headlight.position.set(0.5, 1, 1);
  camera.add(headlight);
  scene.add(camera);

  const model = (await new GLTFLoader().loadAsync(url)).scene;
  if (shown !== view) return; // released meanwhile (with its renderer)
  claySurfaces(THREE, model);
  scene.add(model);
  const box = new THREE.Box3().setFromObject(model);
  // glTF is Y-up and in metres (museforge writes its GLBs so, from Z-up millimetres).
  const zUp = false;
  const dims = box.getSize(new THREE.Vector3()).multiplyScalar(1000);
  const [w, d, h] = [dims.x, dims.z, dims.y];
  size.textContent = `${[w, d, h].map((v) => v.toFixed(v < 10 ? 1 : 0)).join(" × ")} mm (width × depth × height)`;
  const controls = new OrbitControls(camera, renderer.domElement);
  fit(THREE, camera, controls, box, zUp);
  const render = () => renderer.render(scene, camera);
  controls.addEventListener("change", render); // drawn on demand: no loop while it is still
  const resize = () => {
    const width = stage.clientWidth;
    if (!width) return; // hidden
    const height = Math.round((width * 3) / 4);
    renderer.setSize(width, height);
    camera.aspect = width / height;
    camera.updateProjectionMatrix();
    render();
  };
  const observer = new ResizeObserver(resize);
  observer.observe(stage);
  stage.replaceChildren(renderer.domElement);
  resize();
  view.dispose = () => {
    observer.disconnect();
    controls.dispose();
    scene.traverse((node) => {
      node.geometry?.dispose();
      for (const m of [node.material].flat()) m?.dispose();
    });
    scene.environment?.dispose();
    renderer.dispose();
    renderer.forceContextLoss();
  };
}

/** A GLB without materials (as trimesh writes one) gets glTF's default, white metal, which
 * reflects only the room; it is shown in matte clay instead, or matte in its vertex colours.
 * Materials the file has are kept. */
function claySurfaces(THREE, model) {
  model.traverse((node) => {
    const m = node.isMesh ? node.material : null;
    const fallback = m?.isMeshStandardMaterial && !m.name && !m.map && m.metalness === 1 && m.roughness === 1;
    if (!fallback || m.color.getHex() !== 0xffffff) return;
    node.material = new THREE.MeshStandardMaterial({
      color: m.vertexColors ? 0xffffff : 0xd8d2c8,
      vertexColors: m.vertexColors,
      flatShading: m.flatShading, // no normals in the file: its faces shown as they are
      metalness: 0,
      roughness: 0.7,
    });
  });
}

/** Put the camera where the whole model fills the view, a little from the front and above. */
function fit(THREE, camera, controls, box, zUp) {
  const sphere = box.getBoundingSphere(new THREE.Sphere());
  const radius = sphere.radius || 1;
  const distance = (radius / Math.sin(THREE.MathUtils.degToRad(camera.fov / 2))) * 1.15;
  // front is -Y for a Z-up model, +Z for a Y-up one
  const direction = zUp ? new THREE.Vector3(0.6, -1, 0.55) : new THREE.Vector3(0.6, 0.55, 1);
  camera.position.copy(sphere.center).addScaledVector(direction.normalize(), distance);
  camera.near = distance / 100;
  camera.far = distance * 100;
  camera.updateProjectionMatrix();
  controls.target.copy(sphere.center);
  controls.minDistance = radius * 0.2;
  controls.maxDistance = distance * 10;
  controls.update();
}
