// The routes of the WAL's HTTP API: where the API is below its base path,
// and which route a path and a method name. Private to the WAL; the routes
// are listed in http_handler.ts.

import { HttpError } from "./_http_response.ts";

/** A route of the API; those under `/operations/:id` carry the id. */
export type Route =
  | { name: "list" | "submit" | "stats" | "health" | "metrics" | "feed" }
  | { name: "get" | "retry" | "cancel"; id: string };

/**
 * The path below `base` (`""` or `"/..."`), or `undefined` outside it.
 * `base` is `""` for the base path `/`.
 */
export function subPath(pathname: string, base: string): string | undefined {
  if (base === "") return pathname;
  if (pathname === base) return "";
  return pathname.startsWith(base + "/") ? pathname.slice(base.length) : undefined;
}

/**
 * The route of `path` (below the base path) for `method`.
 *
 * @throws {HttpError} 404 no such route, 405 a method the route does not allow.
 */
export function findRoute(path: string, method: string): Route {
  const parts = path.split("/").slice(1);
  if (parts.includes("")) {
    throw new HttpError(404, "not_found", `No such route: ${path.slice(0, 200)}`);
  }
  const allow = (methods: string, route: Route): Route => {
    if (methods.split(", ").includes(method)) return route;
    throw new HttpError(
      405,
      "method_not_allowed",
      `Cannot ${method} ${path.slice(0, 200)}: allowed: ${methods}`,
      { headers: { allow: methods } },
    );
  };
  if (parts.length === 1) {
    switch (parts[0]) {
      case "operations":
        return allow("GET, HEAD, POST", { name: method === "POST" ? "submit" : "list" });
      case "stats":
      case "health":
      case "metrics":
      case "feed":
        return allow("GET, HEAD", { name: parts[0] });
    }
  } else if (parts[0] === "operations" && parts.length === 2) {
    return allow("GET, HEAD", { name: "get", id: parts[1] });
  } else if (parts[0] === "operations" && parts.length === 3) {
    if (parts[2] === "retry" || parts[2] === "cancel") {
      return allow("POST", { name: parts[2], id: parts[1] });
    }
  }
  throw new HttpError(404, "not_found", `No such route: ${path.slice(0, 200)}`);
}
