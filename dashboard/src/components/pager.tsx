import type { Dispatch, ReactNode, SetStateAction } from "react";

/**
 * Keyset pages as a stack of cursors: back pops one, forward pushes the current page's end cursor. The pages using it
 * keep the stack (reset when their filters change) and name the directions as suits their order (newer/older, previous/next).
 */
export function CursorPager(props: {
  cursors: string[];
  setCursors: Dispatch<SetStateAction<string[]>>;
  hasNextPage: boolean;
  endCursor: string | null | undefined;
  /** While a page is being read: both directions wait. */
  busy: boolean;
  labels: { back: string; forward: string };
  /** The page number's test id. */
  testId?: string;
  /** More controls at the end of the bar (e.g. a page size). */
  children?: ReactNode;
}) {
  const { cursors, setCursors, endCursor } = props;
  return (
    <nav className="pager" aria-label="Pages">
      <button type="button" disabled={!cursors.length || props.busy} onClick={() => setCursors((c) => c.slice(0, -1))}>
        {props.labels.back}
      </button>
      <span className="muted" data-testid={props.testId}>
        Page {cursors.length + 1}
      </span>
      <button
        type="button"
        disabled={!props.hasNextPage || props.busy}
        onClick={() => {
          if (endCursor) setCursors((c) => [...c, endCursor]);
        }}
      >
        {props.labels.forward}
      </button>
      {props.children}
    </nav>
  );
}
