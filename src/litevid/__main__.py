from litevid.cli import main

raise SystemExit(main())
