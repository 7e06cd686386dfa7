// An action's 401, for the page's banner. It is about the key the request was sent with, so a
// new key clears it, at once, in the render that sees the key (React's "adjust state when a
// prop changes", not an effect).

import { useState } from "react";

import type { ApiError } from "../services/api";

export function useAuthError(apiKey: string): [ApiError | null, (error: ApiError | null) => void] {
  const [authError, setAuthError] = useState<ApiError | null>(null);
  const [authErrorKey, setAuthErrorKey] = useState(apiKey);
  if (authErrorKey !== apiKey) {
    setAuthErrorKey(apiKey);
    setAuthError(null);
  }
  return [authError, setAuthError];
}
