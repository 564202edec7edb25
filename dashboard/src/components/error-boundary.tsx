import { Component, type ErrorInfo, type ReactNode } from "react";
import { ErrorMessage } from "./error-message.js";

/** A render error shows a message and a way back, never a blank page. */
export class ErrorBoundary extends Component<{ children: ReactNode; resetKey?: unknown }, { error: unknown; resetKey?: unknown }> {
  override state: { error: unknown; resetKey?: unknown } = { error: null, resetKey: this.props.resetKey };

  static getDerivedStateFromError(error: unknown) {
    return { error };
  }

  static getDerivedStateFromProps(props: { resetKey?: unknown }, state: { error: unknown; resetKey?: unknown }) {
    // Navigating elsewhere clears the error.
    return props.resetKey !== state.resetKey ? { error: null, resetKey: props.resetKey } : null;
  }

  override componentDidCatch(error: unknown, info: ErrorInfo) {
    console.error("dashboard render error", error, info.componentStack);
  }

  override render() {
    if (this.state.error) {
      return (
        <div className="page">
          <ErrorMessage error={this.state.error}>
            <p>
              <button type="button" onClick={() => window.location.reload()}>
                Reload the page
              </button>
            </p>
          </ErrorMessage>
        </div>
      );
    }
    return this.props.children;
  }
}
