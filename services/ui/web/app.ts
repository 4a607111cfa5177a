// The page (issue 18): placeholder until it lands.
export {};
