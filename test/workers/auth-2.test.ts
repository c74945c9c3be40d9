/** The authorization suite (./auth-cases.ts), part 2 of 4: every fourth scoped operation from the second. */
import { defineAuthSuite } from "./auth-cases";

defineAuthSuite(1, 4);
