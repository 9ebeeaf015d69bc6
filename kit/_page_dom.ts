/// <reference lib="dom" />
/**
 * The page's DOM helpers: find an element by id, build one with text and
 * attributes (never HTML from data: every value is set as text or as an
 * attribute).
 *
 * @module
 */

/** The element with `id`, of the type expected. */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (element === null) throw new Error(`The page has no element #${id}`);
  return element as T;
}

/** A child of {@linkcode el}: an element or text. */
export type Child = Node | string | number | undefined | null | false;

/**
 * Makes an element with attributes (`class`, `href`, ...) and children.
 *
 * @param tag The tag name.
 * @param attributes Its attributes; `undefined` values are left out.
 * @param children Elements or text.
 */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Record<string, string | undefined> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value !== undefined) element.setAttribute(name, value);
  }
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    element.append(typeof child === "number" ? String(child) : child);
  }
  return element;
}

/** Replaces the children of `parent`. */
export function show(parent: HTMLElement, ...children: Child[]): void {
  parent.replaceChildren();
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    parent.append(typeof child === "number" ? String(child) : child);
  }
}

/** `512 B`, `1.5 KiB`, `12.0 MiB`. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
}

/** The message of anything thrown. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
